"""Several processes on one PostgreSQL: two API servers, two workers, one worker killed with SIGKILL.

1,000 events are written concurrently through both servers. The receiver holds one specific
delivery (the trap) open; when it arrives, the test freezes the worker that sent it (SIGSTOP),
notes every message that worker holds, and kills it (SIGKILL). Every event must then arrive at
least once, none may be lost, and the only webhook-ids received twice must be messages the
killed worker held, the trap among them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from bankfeeds.api_keys import service as api_keys
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Event, WebhookMessage
from bankfeeds.webhooks import service as webhooks
from tests.fixtures.app import TEST_PROCESS_ENV, basic, free_port, make_settings
from tests.fixtures.serving import stop_processes
from tests.webhooks.receiver import Received, Receiver

pytestmark = pytest.mark.slow

BANKFEEDS = str(Path(sys.executable).with_name("bankfeeds"))
REQUESTS = 500  # each creates a company and its connection: two events
SECRET_KEY = "processes-test-secret"


class Trap:
    """Holds the first delivery of the "Trap" company.created until released."""

    def __init__(self) -> None:
        self.hit = threading.Event()
        self.release = threading.Event()
        self.webhook_id: str | None = None

    def __call__(self, item: Received) -> tuple[int, bytes]:
        event = item.event
        trapped = event["eventType"] == "company.created" and event["payload"]["name"] == "Trap"
        if trapped and self.webhook_id is None:
            self.webhook_id = item.webhook_id
            self.hit.set()
            self.release.wait(60)
        return 200, b"ok"


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen([BANKFEEDS, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def test_two_servers_two_workers_a_worker_killed_midway(pg_process_db: str, tmp_path: Path) -> None:
    settings = make_settings(pg_process_db, secret_key=SECRET_KEY, webhooks_allow_private_targets=True)
    database = Database(pg_process_db)
    trap = Trap()
    procs: list[subprocess.Popen[bytes]] = []
    with Receiver(responder=trap) as receiver:
        with database.unit_of_work() as s:
            _, key = api_keys.create(s, SystemClock(), "processes")
            _, receiver.secret = webhooks.add(
                s, SystemClock(), settings, receiver.url, ["company.created", "connection.created"]
            )
        base_env = {**os.environ, **TEST_PROCESS_ENV, "BANKFEEDS_DATABASE_URL": pg_process_db, "BANKFEEDS_SECRET_KEY": SECRET_KEY, "BANKFEEDS_WORKER_POLL_SECONDS": "0.5",
                    "BANKFEEDS_IDX_PARTNER_KEY": "processes-partner-key",
                    "BANKFEEDS_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true"}
        try:
            servers = []
            for i in range(2):
                port = free_port()
                env = {**base_env, "BANKFEEDS_RUN_WORKER": "false"}
                log = tmp_path / f"server{i}.log"
                procs.append(spawn(["serve", "--port", str(port)], env, log))
                servers.append((f"http://127.0.0.1:{port}", procs[-1], log))
            workers = []
            for i in range(2):
                env = {**base_env, "BANKFEEDS_WEBHOOKS_LEASE_SECONDS": "6", "BANKFEEDS_WEBHOOKS_CONCURRENCY": "4"}
                workers.append(spawn(["worker"], env, tmp_path / f"worker{i}.log"))
            procs.extend(workers)
            for url, proc, log in servers:
                wait_healthy(url, proc, log)

            names = [f"Co {i}" for i in range(REQUESTS)]
            names[REQUESTS // 2] = "Trap"
            clients = [httpx.Client(base_url=url, headers={"Authorization": basic(key)}, timeout=30)
                       for url, _, _ in servers]

            def write(i: int) -> int:
                r = clients[i % 2].post("/companies", json={"name": names[i], "platformType": "hcws"})
                return r.status_code

            with ThreadPoolExecutor(8) as pool:
                writes = pool.map(write, range(REQUESTS))
                # Midway: the trap arrives; freeze its worker, note what it holds, kill it.
                assert trap.hit.wait(40), "the trap delivery never arrived"
                with database.unit_of_work() as s:
                    holder = s.scalar(select(WebhookMessage.locked_by).where(WebhookMessage.id == trap.webhook_id))
                assert holder is not None
                pid = int(holder.split(":")[1])
                [victim] = [w for w in workers if w.pid == pid]
                os.kill(pid, signal.SIGSTOP)
                with database.unit_of_work() as s:
                    held = set(s.scalars(select(WebhookMessage.id).where(WebhookMessage.locked_by == holder)))
                os.kill(pid, signal.SIGKILL)
                victim.wait(10)
                trap.release.set()
                assert set(writes) == {200}
            for c in clients:
                c.close()

            with database.unit_of_work() as s:
                event_ids = {str(e) for e in s.scalars(select(Event.id))}
            assert len(event_ids) == 2 * REQUESTS

            # Done when the database says so: every message succeeded and no claim is left. (The
            # trap's first request was answered into a dead socket, so only the survivor's
            # delivery of it, after the lease ran out, can mark it delivered.)
            deadline = time.monotonic() + 45
            while True:
                with database.unit_of_work() as s:
                    states = dict(s.execute(select(WebhookMessage.status, func.count())
                                            .group_by(WebhookMessage.status)).all())
                    locked = s.scalar(select(func.count()).select_from(WebhookMessage)
                                      .where(WebhookMessage.locked_by.is_not(None)))
                if (states == {"Success": 2 * REQUESTS} and locked == 0) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert states == {"Success": 2 * REQUESTS} and locked == 0
            items = receiver.snapshot()
            assert all(r.verified for r in items)
            assert {r.event["id"] for r in items} == event_ids  # none lost, nothing foreign
            counts = Counter(r.webhook_id for r in items)
            duplicated = {m for m, n in counts.items() if n > 1}
            assert trap.webhook_id in duplicated
            assert duplicated <= held, (duplicated - held, held)
            assert len(held) <= 4  # at most its concurrency
            # Both surviving kinds of process did work: the other worker delivered the rest.
            survivor = next(w for w in workers if w is not victim)
            with database.unit_of_work() as s:
                by_worker = set(s.scalars(text("SELECT DISTINCT split_part(worker, ':', 2) FROM webhook_attempts")))
            assert str(survivor.pid) in by_worker
        finally:
            trap.release.set()
            stop_processes(procs)
            database.dispose()
    # The surviving worker, stopped with SIGTERM, exits cleanly (graceful shutdown).
    assert survivor.returncode == 0, [(tmp_path / f"worker{i}.log").read_text()[-2000:] for i in range(2)]
