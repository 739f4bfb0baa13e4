"""`make deploy-check`: validate deploy/compose.yaml and deploy/k8s/ with what runs without a cluster.

- every Kubernetes manifest against the Kubernetes 1.37 schemas, strictly (kubernetes-validate);
- the compose file rendered by `podman-compose config` with the example env file;
- our own rules: secrets only referenced (no inline values), non-root, read-only root, resource
  requests on every container, /healthz and /readyz probes on serve, a PodDisruptionBudget for each
  Deployment, migrations off at start (a Job / service does them), and every BANKFEEDS_ setting
  named in the manifests is a real setting of bankfeeds.config.Settings.
Exits 1 with every problem listed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bankfeeds.config import Settings

DEPLOY = Path(__file__).resolve().parent
K8S = DEPLOY / "k8s"
SECRET_WORDS = ("SECRET", "PASSWORD", "KEY", "DATABASE_URL", "TOKEN")
SETTINGS = {f"BANKFEEDS_{name.upper()}" for name in Settings.model_fields}

problems: list[str] = []


def problem(where: str, what: str) -> None:
    problems.append(f"{where}: {what}")


def bin_path(name: str) -> str:
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else (shutil.which(name) or name)


def check_setting_names(where: str, names: list[str]) -> None:
    for name in names:
        if name.startswith("BANKFEEDS_") and name not in SETTINGS:
            problem(where, f"{name} is not a bankfeeds setting")


def kubernetes() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    if sorted(kustomization["resources"]) != files:
        problem("k8s/kustomization.yaml", f"resources {kustomization['resources']} are not the files {files}")
    done = subprocess.run([bin_path("kubernetes-validate"), "--strict", "--quiet",
                           *(str(K8S / f) for f in files)], capture_output=True, text=True)
    if done.returncode != 0:
        problem("k8s", f"schema validation failed:\n{done.stdout}{done.stderr}")
    docs = [(f, d) for f in files for d in yaml.safe_load_all((K8S / f).read_text()) if d]
    kinds = {d["kind"] for _, d in docs}
    if "Secret" in kinds:
        problem("k8s", "a Secret is inlined; reference bankfeeds-secrets, created outside these files")
    pdb_selectors = [d["spec"]["selector"]["matchLabels"] for _, d in docs if d["kind"] == "PodDisruptionBudget"]
    for f, d in docs:
        if d["kind"] == "ConfigMap":
            check_setting_names(f, list(d["data"]))
            for name in d["data"]:
                if any(w in name for w in SECRET_WORDS):
                    problem(f, f"{name} looks secret but sits in a ConfigMap")
            if d["data"].get("BANKFEEDS_MIGRATE_ON_START") != "false":
                problem(f, "BANKFEEDS_MIGRATE_ON_START must be false: the migration Job migrates")
        if d["kind"] not in ("Deployment", "Job"):
            continue
        where = f"{f} {d['kind']}/{d['metadata']['name']}"
        pod = d["spec"]["template"]["spec"]
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            problem(where, "pods must run as non-root")
        if d["kind"] == "Deployment":
            labels = d["spec"]["selector"]["matchLabels"]
            if labels not in pdb_selectors:
                problem(where, "no PodDisruptionBudget selects it")
        for c in pod["containers"]:
            requests = c.get("resources", {}).get("requests", {})
            if not {"cpu", "memory"} <= set(requests):
                problem(where, f"container {c['name']} has no cpu and memory requests")
            sc = c.get("securityContext", {})
            if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation") is not False:
                problem(where, f"container {c['name']} must have a read-only root and no privilege escalation")
            for env in c.get("env", []):
                if "value" in env and any(w in env["name"] for w in SECRET_WORDS):
                    problem(where, f"{env['name']} is inlined; reference a Secret")
            check_setting_names(where, [e["name"] for e in c.get("env", [])])
            refs = {r.get("secretRef", {}).get("name") for r in c.get("envFrom", [])}
            if "bankfeeds-secrets" not in refs:
                problem(where, "the Secret bankfeeds-secrets is not referenced")
            if c["args"][:1] == ["serve"]:
                probes = {k: c.get(k, {}).get("httpGet", {}).get("path")
                          for k in ("startupProbe", "livenessProbe", "readinessProbe")}
                if probes != {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}:
                    problem(where, f"serve probes must be /healthz (startup, liveness) and /readyz: {probes}")
    if not any(d["kind"] == "Job" and d["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
               for _, d in docs):
        problem("k8s", "no migration Job running `db upgrade`")


def compose() -> None:
    env = {**os.environ, "BANKFEEDS_ENV_FILE": "bankfeeds.env.example"}
    done = subprocess.run([bin_path("podman-compose"), "-f", str(DEPLOY / "compose.yaml"), "config"],
                          capture_output=True, text=True, env=env, cwd=DEPLOY)
    if done.returncode != 0:
        problem("compose.yaml", f"podman-compose config failed:\n{done.stderr}")
        return
    rendered: dict[str, Any] = yaml.safe_load(done.stdout)
    services = rendered["services"]
    example = [line.split("=", 1)[0] for line in (DEPLOY / "bankfeeds.env.example").read_text().splitlines()
               if line and not line.startswith("#")]
    check_setting_names("bankfeeds.env.example", example)
    if services.get("migrate", {}).get("command") != ["db", "upgrade"]:
        problem("compose.yaml", "no one-shot migrate service running `db upgrade`")
    serves = [n for n, s in services.items() if s.get("command", [None])[0] == "serve"]
    workers = [n for n, s in services.items() if s.get("command") == ["worker"]]
    if len(serves) < 2 or len(workers) < 2:
        problem("compose.yaml", f"expected two serve and two worker services: {serves} {workers}")
    for name in serves + workers + ["migrate"]:
        s = services[name]
        environment = s.get("environment", {})
        check_setting_names(f"compose.yaml {name}", list(environment))
        for key in environment:
            if any(w in key for w in SECRET_WORDS):
                problem(f"compose.yaml {name}", f"{key} is inlined; put it in the env file")
        if environment.get("BANKFEEDS_MIGRATE_ON_START") != "false":
            problem(f"compose.yaml {name}", "BANKFEEDS_MIGRATE_ON_START must be false")
        if not s.get("read_only") or s.get("user") != "10001:10001":
            problem(f"compose.yaml {name}", "must run read-only as uid 10001")
    for name in serves:
        test = " ".join(services[name].get("healthcheck", {}).get("test", []))
        if "/readyz" not in test:
            problem(f"compose.yaml {name}", "the health check must call /readyz")
        if services[name].get("depends_on", {}).get("migrate", {}).get("condition") != \
                "service_completed_successfully":
            problem(f"compose.yaml {name}", "must start after the migrate service completed")


def main() -> int:
    kubernetes()
    compose()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print("deploy/k8s: every manifest valid against the Kubernetes 1.37 schemas (strict); rules hold")
    print("deploy/compose.yaml: renders with podman-compose config; rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
