"""A real `bankfeeds serve`, SIGKILLed at random moments while a client pushes transactions with
an Idempotency-Key; after each restart the client's retry of the same request completes at once
(the dead owner's lock is gone with it), and in the end every transaction is stored exactly once.

``BANKFEEDS_CRASH_KILLS`` sets how many kills (CI runs a few; run more by hand).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import simplejson
from sqlalchemy import select

from bankfeeds.api_keys import service as api_keys
from bankfeeds.idempotency import service
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction, IdempotencyKey
from tests.fixtures.app import TEST_PROCESS_ENV, basic, free_port
from tests.fixtures.factories import make_linked_feed

BANKFEEDS = str(Path(sys.executable).with_name("bankfeeds"))
KILLS = int(os.environ.get("BANKFEEDS_CRASH_KILLS", "4"))
BATCH = 400  # long enough (in a thread, not on the event loop) for a kill to land while it is written


class Server:
    def __init__(self, db_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {**os.environ, **TEST_PROCESS_ENV, "BANKFEEDS_DATABASE_URL": db_url,
                    "BANKFEEDS_SECRET_KEY": "crash-test-secret", "BANKFEEDS_IDX_PARTNER_KEY": "crash-partner",
                    "BANKFEEDS_RUN_WORKER": "false"}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait until healthy; returns when it became healthy (monotonic)."""
        out = self.log.open("ab")
        self.proc = subprocess.Popen([BANKFEEDS, "serve", "--port", str(self.port)], env=self.env,
                                     stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return time.monotonic()
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _minute(n: int) -> str:
    """Transaction n's date: one minute after the previous, from 2026-11-20 (dates never go back)."""
    return (datetime(2026, 11, 20) + timedelta(minutes=n)).isoformat()


def _send_and_kill(server: Server, database: Database, url: str, headers: dict[str, str], body: bytes,
                   key: str, delay: float) -> tuple[str | None, float]:
    """Send the request; once its key is reserved (the request is in flight), wait ``delay``
    seconds and SIGKILL the server. Returns the key's state just before the kill, and when."""
    done = threading.Event()

    def send() -> None:
        try:
            httpx.post(server.url + url, content=body, headers={**headers, "Idempotency-Key": key}, timeout=30)
        except httpx.HTTPError:
            pass  # the kill cut it off
        finally:
            done.set()

    digest = service.key_hash(key)
    thread = threading.Thread(target=send)
    thread.start()
    state: str | None = None
    while not done.is_set():
        with database.unit_of_work() as session:
            state = session.scalar(select(IdempotencyKey.state).where(IdempotencyKey.key_hash == digest))
        if state is not None:
            break
    time.sleep(delay)
    killed_at = time.monotonic()
    server.kill()
    thread.join(30)
    return state, killed_at


def test_kill_9_mid_push_then_the_retry_completes_at_once(process_db: str, tmp_path: Path) -> None:
    database = Database(process_db)
    clock = SystemClock()
    company, connection, _ = make_linked_feed(database, clock)
    with database.unit_of_work() as session:
        _, raw_key = api_keys.create(session, clock, "crash")
    url = f"/companies/{company.id}/connections/{connection.id}/push/bankAccounts/acc-1/bankTransactions"
    headers = {"Authorization": basic(raw_key), "Content-Type": "application/json"}
    server = Server(process_db, tmp_path / "serve.log")
    rng = random.Random(9)
    waits: list[float] = []  # from the restarted server being healthy to the retry's answer
    since_kill: list[float] = []  # from the kill to the retry's answer (restart included)
    in_progress = 0           # retries told "in progress" by a dead owner (the old 5-minute stall)
    lost = 0                  # committed but response not stored (then the work is there)
    sent = 0
    states: list[str | None] = []  # the key's state when each kill landed
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30, headers=headers) as client:
            for batch_no in range(KILLS + 2):
                txns = [{"id": f"b{batch_no}-{i}", "date": _minute(sent + i),
                         "description": f"Item {i}", "amount": Decimal("1.00"),
                         "balance": Decimal(sent + i + 1), "transactionType": "Credit"} for i in range(BATCH)]
                body = simplejson.dumps({"accountId": "acc-1", "transactions": txns}, use_decimal=True).encode()
                key = str(uuid.uuid4())
                ready_at: float | None = None
                killed_at = 0.0
                if batch_no < KILLS:
                    state, killed_at = _send_and_kill(server, database, url, headers, body, key,
                                                      rng.choice([0.0, rng.uniform(0.0, 0.05)]))
                    states.append(state)
                    ready_at = server.start()
                give_up = time.monotonic() + 60  # the old code stalled 5 minutes here
                while True:
                    assert time.monotonic() < give_up, f"the retry was held off: {in_progress} x 409"
                    try:
                        r = client.post(url, content=body, headers={"Idempotency-Key": key})
                    except httpx.TransportError:
                        time.sleep(0.1)
                        continue
                    if r.status_code == 409 and "in progress" in r.text:
                        in_progress += 1
                        time.sleep(0.2)
                        continue
                    break
                if ready_at is not None:
                    waits.append(time.monotonic() - ready_at)
                    since_kill.append(time.monotonic() - killed_at)
                if r.status_code == 409 and "could not be recorded" in r.text:
                    lost += 1
                else:
                    assert r.status_code == 200, r.text
                    assert r.json()["status"] == "Success", r.text
                sent += BATCH
    finally:
        server.stop()
    with database.unit_of_work() as session:
        ids = session.scalars(select(BankTransaction.transaction_id)).all()
    database.dispose()
    report = {"kills": KILLS, "transactions": sent, "stored": len(ids),
              "retry_waits_s": [round(w, 3) for w in waits],
              "kill_to_answer_s": [round(w, 3) for w in since_kill], "in_progress_409s": in_progress,
              "lost_responses": lost, "states_at_kill": states}
    print("crash report:", report)
    assert len(ids) == sent, report                                    # none lost
    assert not [i for i, n in Counter(ids).items() if n > 1], report   # none duplicated
    # The kills landed mid-request, and no retry was held off by the dead owner.
    assert "in_flight" in states, report
    assert in_progress == 0, report
