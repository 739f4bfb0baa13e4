"""`bankfeeds serve --workers 2` as real processes: /metrics adds up both processes' counts
(PROMETHEUS_MULTIPROC_DIR), and stderr carries one JSON object per line, where the correlation id
of a request reappears on the worker's lines for the webhooks it caused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bankfeeds.kit.db import Database
from tests.console.helpers import Receiver
from tests.fixtures.app import TEST_PROCESS_ENV, basic, free_port
from tests.fixtures.serving import stop_processes


def _wait_until_up(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "bankfeeds serve exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("bankfeeds serve did not start")


@pytest.mark.committed_database  # the server processes share the test's database
def test_two_processes_one_metrics_view_and_json_logs(db_url: str, database: Database, tmp_path: Path) -> None:
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {**os.environ, **TEST_PROCESS_ENV, "BANKFEEDS_DATABASE_URL": db_url,
           "BANKFEEDS_LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
           "BANKFEEDS_WORKER_POLL_SECONDS": "0.2", "BANKFEEDS_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true"}
    created = subprocess.run([sys.executable, "-m", "bankfeeds", "api-keys", "create", "--name", "obs"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = tmp_path / "serve.log"
    receiver = Receiver()
    receiver.status = 200
    with log_file.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bankfeeds", "serve", "--port", str(port), "--workers", "2"],
                                env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        try:
            _wait_until_up(url, proc)
            api = httpx.Client(base_url=url, headers={"Authorization": basic(key)}, timeout=30)
            consumer = api.post("/webhooks", json={"url": receiver.url, "eventTypes": ["company.created"]})
            assert consumer.status_code == 201, consumer.text
            secret = consumer.json()["signingSecret"]
            cids = []
            for i in range(6):
                # A fresh connection each time, so both processes get some.
                r = httpx.post(f"{url}/companies", json={"name": f"Process Co {i}"},
                               headers={"Authorization": basic(key)}, timeout=30)
                assert r.status_code == 200, r.text
                cids.append(r.headers["x-correlation-id"])
            deadline = time.monotonic() + 60
            while receiver.received < 6 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert receiver.received == 6
            text = httpx.get(f"{url}/metrics", timeout=30).text
        finally:
            stop_processes([proc])
            receiver.close()

    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    posts = sum(v for (n, ls), v in samples.items() if n == "bankfeeds_http_requests_total"
                and ("route", "/companies") in ls and ("method", "POST") in ls)
    assert posts == 6  # both processes' counts, whichever answered the scrape
    delivered = sum(v for (n, ls), v in samples.items() if n == "bankfeeds_webhook_deliveries_total"
                    and ("outcome", "success") in ls)
    assert delivered == 6
    assert len(list(multiproc.glob("*.db"))) >= 2  # one file per process that counted

    lines = []
    for raw in log_file.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    for cid in cids:
        mine = [line for line in lines if line.get("correlationId") == cid]
        kinds = {(line["kind"], line.get("job")) for line in mine}
        assert ("request", None) in kinds and ("job", "dispatch_webhook_events") in kinds \
            and ("job", "deliver_webhook_messages") in kinds, mine
    body = log_file.read_text()
    for secret_value in (key, secret, basic(key)):
        assert secret_value not in body
