"""The image, run with `buildah run` against this machine's PostgreSQL: the scaled-out shape starts cleanly.

Only when BANKFEEDS_IMAGE_SMOKE=1 (`make image-smoke`, run by .ci/run after `make image`): it needs
root, buildah and a built image (BANKFEEDS_IMAGE, default localhost/bankfeeds:latest).

Two `serve` processes and a `worker` start first, as the image runs them (not migrating): they
wait. The migration job (`bankfeeds db upgrade`) then runs once, and they start. From the host:
an API key, a webhook consumer on a local receiver, a company and its QuickBooks connection, a
source account, IDX credentials, a push through one server, the pull back over IDX through the
other, and the webhooks delivered and verified. Every process is stopped with SIGTERM, and every
log must be free of errors.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import simplejson

from tests.deploy.helpers import wait_for_line, wait_ready
from tests.fixtures.app import basic, free_port
from tests.fixtures.database import create_pg_database, drop_pg_database
from tests.webhooks.receiver import Receiver

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("BANKFEEDS_IMAGE_SMOKE") != "1",
                       reason="image smoke test: `make image` then `make image-smoke` (BANKFEEDS_IMAGE_SMOKE=1)"),
]

IMAGE = os.environ.get("BANKFEEDS_IMAGE", "localhost/bankfeeds:latest")
BUILDAH = ["buildah", "--storage-driver", "vfs"]
PARTNER_KEY = "smoke-partner-key"
IDX = "/partners/intuit/idx"
# Lines that mean something went wrong, in any process's log.
EVENTS = ("company.created", "connection.created", "bankFeeds.sourceAccount.connected",
          "bankTransactions.write.successful")
TERMINATED = "subprocess exited on terminated\nsubprocess exited with status 1\nError: exit status 1\n"
ERROR_MARKS = ("Traceback", "ERROR", "CRITICAL", "Exception", "exited with status")


class Container:
    """A working container of the image; each `run` is a process in it, with the host's network."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.name = subprocess.run([*BUILDAH, "from", "--quiet", IMAGE], check=True, capture_output=True,
                                   text=True).stdout.strip()
        self.procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def argv(self, args: list[str]) -> list[str]:
        env = [f"--env={k}={v}" for k, v in self.env.items()]
        return [*BUILDAH, "run", "--isolation", "chroot", *env, self.name, "--", *args]

    def run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=180)

    def start(self, label: str, args: list[str]) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.logs / f"{label}.log"
        proc = subprocess.Popen(self.argv(args), stdin=subprocess.DEVNULL, stdout=log.open("wb"),
                                stderr=subprocess.STDOUT)
        self.procs.append((label, proc, log))
        return proc, log

    def stop(self) -> None:
        """SIGTERM to each `bankfeeds` process (buildah itself would SIGKILL it), then wait."""
        for _, proc, _ in self.procs:
            if proc.poll() is None:
                for pid in _bankfeeds_pids(proc.pid):
                    os.kill(pid, signal.SIGTERM)
        for _, proc, _ in self.procs:
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def remove(self) -> None:
        subprocess.run([*BUILDAH, "rm", self.name], capture_output=True, check=False)


def _bankfeeds_pids(root: int) -> list[int]:
    """The `bankfeeds` processes below the buildah process ``root``."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            todo.extend(children)
            for child in children:
                try:
                    # Not buildah's chroot helper (its comm is memfd:buildah-...): the process itself.
                    if Path(f"/proc/{child}/comm").read_text().strip() == "bankfeeds":
                        found.append(child)
                except OSError:
                    continue
    return found


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"bankfeeds_smoke_{uuid.uuid4().hex[:8]}"
    url = create_pg_database(name)  # empty: the migration job creates the schema
    yield url
    drop_pg_database(name)


def test_image_scaled_out_smoke_journey(pg_url: str, tmp_path: Path) -> None:
    env = {
        "BANKFEEDS_DATABASE_URL": pg_url,
        "BANKFEEDS_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        "BANKFEEDS_IDX_PARTNER_KEY": PARTNER_KEY,
        "BANKFEEDS_RUN_WORKER": "false",
        "BANKFEEDS_WORKER_POLL_SECONDS": "0.5",
        "BANKFEEDS_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",  # the receiver is on 127.0.0.1
    }
    box = Container(env, tmp_path)
    try:
        # What the image is: non-root, no compilers, `bankfeeds` as the entrypoint, production settings.
        config = json.loads(subprocess.run([*BUILDAH, "inspect", "--type", "image", IMAGE], check=True,
                                           capture_output=True, text=True).stdout)["OCIv1"]["config"]
        assert config["User"] == "10001:10001" and config["Entrypoint"] == ["bankfeeds"]
        assert "BANKFEEDS_ENVIRONMENT=production" in config["Env"]
        probe = box.run(["sh", "-c", "id -u; for c in gcc cc c++ g++ clang make pip pip3; do "
                               "command -v $c; done; touch /opt/bankfeeds/x 2>/dev/null || echo read-only-opt"])
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.split() == ["10001", "read-only-opt"], probe.stdout

        servers = []
        for i in range(2):
            port = free_port()
            proc, log = box.start(f"serve{i}", ["bankfeeds", "serve", "--host", "127.0.0.1", "--port", str(port)])
            servers.append((f"http://127.0.0.1:{port}", proc, log))
        worker, worker_log = box.start("worker", ["bankfeeds", "worker"])
        for _, proc, log in [*servers, ("", worker, worker_log)]:
            wait_for_line(log, "waiting up to", proc, timeout=120)

        job = box.run(["bankfeeds", "db", "upgrade"])
        assert job.returncode == 0, job.stderr
        assert "migrated the database schema from empty to" in job.stdout
        # Production mode: the hub's chain only, none of the demo surfaces' tables (their own branch).
        assert _demo_tables(pg_url) == []
        for url, proc, log in servers:
            wait_ready(url, proc, log, timeout=120)
        wait_for_line(worker_log, ": starting", worker)

        made = box.run(["bankfeeds", "api-keys", "create", "--name", "smoke"])
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip().splitlines()[-1]
        _journey(servers[0][0], servers[1][0], key)
        # For docs/deploy.md's sizing: PostgreSQL connections the three processes hold after the journey.
        print(f"\nPostgreSQL connections held by 2 serve + 1 worker: {_connections(pg_url)}")
    finally:
        box.stop()
        box.remove()

    for label, proc, log in box.procs:
        text = log.read_text()
        if text.endswith(TERMINATED):
            # uvicorn shuts down on SIGTERM, then ends itself with the signal; buildah reports it so.
            text = text.removesuffix(TERMINATED)
        else:
            assert proc.returncode == 0, f"{label} exited {proc.returncode}: {text[-3000:]}"
        for mark in ERROR_MARKS:
            assert mark not in text, f"{label}'s log says {mark}: {text[-3000:]}"
    for label in ("serve0", "serve1"):
        assert "Application shutdown complete" in (tmp_path / f"{label}.log").read_text()


def _journey(first: str, second: str, key: str) -> None:
    auth = {"Authorization": basic(key)}
    with Receiver() as receiver, httpx.Client(base_url=first, headers=auth, timeout=30) as one, \
            httpx.Client(base_url=second, headers=auth, timeout=30) as two:
        r = one.post("/webhooks", json={"url": receiver.url, "eventTypes": [
            *EVENTS]})
        assert r.status_code == 201, r.text
        receiver.secret = r.json()["signingSecret"]

        r = one.post("/companies", json={"name": "Smoke Bakery"}, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code == 200, r.text
        company = r.json()["id"]
        r = two.post(f"/companies/{company}/connections", json={"platformKey": "hcws"})
        assert r.status_code == 200, r.text
        connection = r.json()["id"]
        base = f"/companies/{company}/connections/{connection}"
        r = one.post(f"{base}/connectionInfo/bankFeedAccounts/batch", json=[{
            "id": "chk-1", "accountName": "Business Checking", "accountType": "checking",
            "accountNumber": "12345678", "routingInfo": {"bankCode": "021000021", "type": "rtn"},
            "currency": "USD", "balance": 1000.00}])
        assert r.status_code == 201, r.text
        r = two.post(f"{base}/connectionInfo/bankFeedAccounts/credentials", content=b"{}",
                     headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        pair = base64.b64encode(f"{r.json()['username']}:{r.json()['password']}".encode()).decode()
        idx = {"Authorization": f"Basic {pair}", "X-Partner-Key": base64.b64encode(PARTNER_KEY.encode()).decode()}

        # QuickBooks connects the account over IDX (through the first server).
        r = httpx.get(first + f"{IDX}/accounts", headers=idx, timeout=30)
        assert r.status_code == 200, r.text
        assert [a["id"] for a in r.json()["results"]] == ["chk-1"]
        r = httpx.get(first + f"{IDX}/accounts/chk-1/transactions", headers=idx, timeout=30)
        assert r.status_code == 200 and r.json()["results"] == [], r.text

        # The bank pushes through the second server; exact amounts.
        day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT10:00:00")
        amounts = [Decimal("0.10"), Decimal("-0.20"), Decimal("12345.6789")]
        balance, txns = Decimal("1000.00"), []
        for i, amount in enumerate(amounts):
            balance += amount
            txns.append({"id": f"s{i}", "date": day, "description": f"Smoke {i}", "amount": amount,
                         "balance": balance, "transactionType": "Credit" if amount > 0 else "Debit"})
        r = two.post(f"{base}/push/bankAccounts/chk-1/bankTransactions",
                     content=simplejson.dumps({"accountId": "chk-1", "transactions": txns}, use_decimal=True),
                     headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code == 200 and r.json()["status"] == "Success", r.text

        # QuickBooks pulls them back over IDX through the first server.
        r = httpx.get(first + f"{IDX}/accounts/chk-1/transactions", headers=idx, timeout=30)
        assert r.status_code == 200, r.text
        pulled = {t["transactionId"]: t for t in r.json()["results"]}
        assert sorted(pulled) == ["s0", "s1", "s2"], r.text
        for i, amount in enumerate(amounts):
            assert Decimal(pulled[f"s{i}"]["amount"]["amount"]) == amount, pulled[f"s{i}"]

        # The worker delivered the webhooks to the local receiver, signed.
        deadline = time.monotonic() + 60
        wanted = set(EVENTS)
        while time.monotonic() < deadline and not wanted <= {x.event["eventType"] for x in receiver.received}:
            time.sleep(0.2)
        got = receiver.received
        assert wanted <= {x.event["eventType"] for x in got}, [x.event for x in got]
        assert all(x.verified for x in got)
        assert {x.event["payload"]["id"] for x in got if x.event["eventType"] == "company.created"} == {company}

        for url in (first, second):
            assert httpx.get(url + "/readyz", timeout=10).json() == {"status": "ok"}


def _connections(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def _demo_tables(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND "
                            "(tablename LIKE 'sandbox\\_%' OR tablename LIKE 'xero\\_sandbox\\_%' "
                            "OR tablename LIKE 'demo\\_%') ORDER BY tablename").fetchall()
    return [str(r[0]) for r in rows]
