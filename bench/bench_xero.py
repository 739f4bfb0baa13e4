"""`python -m bench xero`: pushes delivered to Xero as statements, against the Xero sandbox.

The sandbox runs as its own process (``bankfeeds sandbox xero``, its own SQLite file); the hub's
worker (the statement lane alone, in this process) delivers pushes already accepted through the
API. Two runs:

* **limits off** (sandbox ``--no-limits``, the hub's budget wide open): statements delivered per
  second, end to end (build, POST /Statements, GET until DELIVERED, push Success), on SQLite and
  PostgreSQL. The floor a user would recognise is Xero itself: 180 statements a minute per app
  (3/s) is all Xero takes, so this is headroom, not a target.
* **limits on** (Xero's limits, the hub's shared budget at its defaults): one organisation with
  more work queued than a minute allows; for ``BENCH_XERO_LIMITED_SECONDS`` the sandbox's log of
  calls gives the most calls the organisation saw in any 60 s (its share of Xero's 60) and the
  number of 429s (the target is none).

Environment: ``BENCH_XERO_STATEMENTS`` (default 300), ``BENCH_XERO_LINES`` (lines per statement,
default 10), ``BENCH_XERO_LIMITED_SECONDS`` (default 75).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.fixtures.serving import basic, free_port, make_settings
from tests.xero.helpers import XeroFeed, feed, link, push, txns

from bankfeeds.api_keys import service as api_keys
from bankfeeds.app import create_app
from bankfeeds.config import Settings
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import PushOperation
from bankfeeds.platforms.gbol.tasks import deliver_statements
from bankfeeds.worker.runner import Worker
from bench.common import fresh_database

STATEMENTS = int(os.environ.get("BENCH_XERO_STATEMENTS", "300"))
LINES = int(os.environ.get("BENCH_XERO_LINES", "10"))
LIMITED_SECONDS = float(os.environ.get("BENCH_XERO_LIMITED_SECONDS", "75"))
CLIENT_ID = "bench-xero-client"
CLIENT_SECRET = "bench-xero-client-secret-0123456789"
BANKFEEDS = str(Path(sys.executable).with_name("bankfeeds"))
# Sandbox organisation -> currency (its seeded demo organisations).
ORGANISATIONS = {"Acme Trading Ltd": "GBP", "Bluebird Cafe LLC": "USD", "Kiwi Coffee Co": "NZD"}


@contextmanager
def sandbox(public_url: str, *, limits: bool) -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-xero-") as tmp:
        args = [BANKFEEDS, "sandbox", "xero", "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
                "--redirect-uri", f"{public_url}/link/xero/callback", "--port", str(port),
                "--database-url", f"sqlite:///{tmp}/xero.sqlite3", "--limits" if limits else "--no-limits"]
        log = Path(tmp) / "sandbox.log"
        proc = subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Xero sandbox did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}/sandbox/xero"
        finally:
            proc.terminate()
            proc.wait(20)


def hub_settings(db_url: str, base: str, *, open_budget: bool) -> Settings:
    extra: dict[str, Any] = {}
    if open_budget:
        extra = {"xero_calls_per_minute": 10**9, "xero_calls_per_day": 10**9, "xero_concurrent_calls": 64,
                 "xero_statements_per_minute": 10**9}
    return make_settings(db_url, xero_client_id=CLIENT_ID, xero_client_secret=CLIENT_SECRET,
                         xero_authorize_url=f"{base}/identity/connect/authorize",
                         xero_token_url=f"{base}/identity/connect/token",
                         xero_revoke_url=f"{base}/identity/connect/revocation", xero_api_url=f"{base}/api",
                         xero_statement_poll_seconds=0.2, worker_poll_seconds=0.2, **extra)


def queue_pushes(settings: Settings, database: Database, organisations: dict[str, str], count: int) -> int:
    """Link the organisations, one feed each, and accept ``count`` pushes spread over the feeds."""
    clock = SystemClock()
    feeds: list[XeroFeed] = []
    with httpx.Client(timeout=30) as http:
        for name, currency in organisations.items():
            company, connection, tenant = link(database, clock, settings, http, name, company_name=name)
            feeds.append(feed(database, clock, settings, http, company, connection, tenant, "acc-1",
                              currency=currency, balance=Decimal("1000.00")))
    with database.unit_of_work() as session:
        _, key = api_keys.create(session, clock, "bench")
    app = create_app(settings, clock=clock, database=database, run_worker=False)
    openings = {f.feed_id: Decimal("1000.00") for f in feeds}
    today = datetime.now(UTC)
    with TestClient(app, headers={"Authorization": basic(key)}) as client:
        for n in range(count):
            f = feeds[n % len(feeds)]
            round_ = n // len(feeds)
            batch = txns(round_ * LINES + 1, LINES, opening=openings[f.feed_id])
            day = (today - timedelta(days=300) + timedelta(hours=round_)).strftime("%Y-%m-%dT%H")
            for j, t in enumerate(batch):
                t["date"] = f"{day}:{j % 60:02d}:00"
            openings[f.feed_id] = batch[-1]["balance"]
            assert push(client, f, batch)["status"] == "Pending"
    return len(feeds)


def pending(database: Database) -> int:
    with database.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(PushOperation)
                              .where(PushOperation.status == "Pending")) or 0


def limits_off(kind: str) -> None:
    with fresh_database(kind, label="bench-xero") as url:
        if url is None:
            return
        public = "http://127.0.0.1:1"
        with sandbox(public, limits=False) as base:
            settings = hub_settings(url, base, open_budget=True).model_copy(update={"public_url": public})
            database = Database(url)
            queue_pushes(settings, database, ORGANISATIONS, STATEMENTS)
            worker = Worker(database, settings, SystemClock(), tasks=[deliver_statements(threads=8)])
            started = time.perf_counter()
            worker.start()
            while pending(database) and time.perf_counter() - started < 600:
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            worker.stop()
            left = pending(database)
            database.dispose()
    done = STATEMENTS - left
    print(f"{kind:10} limits off: {done} statements x {LINES} lines delivered in {elapsed:.1f} s: "
          f"{done / elapsed:.1f} statements/s ({done * LINES / elapsed:.0f} lines/s); Xero takes 3/s per app")


def limits_on() -> None:
    with fresh_database("sqlite", label="bench-xero-limited") as url:
        assert url is not None
        public = "http://127.0.0.1:1"
        with sandbox(public, limits=True) as base:
            settings = hub_settings(url, base, open_budget=False).model_copy(update={"public_url": public})
            database = Database(url)
            # Twice what a minute allows for one organisation (each statement: a POST and a GET).
            wanted = int(LIMITED_SECONDS)
            queue_pushes(settings, database, {"Acme Trading Ltd": "GBP"}, wanted)
            worker = Worker(database, settings, SystemClock(), tasks=[deliver_statements(threads=8)])
            started = time.perf_counter()
            worker.start()
            while pending(database) and time.perf_counter() - started < LIMITED_SECONDS:
                time.sleep(0.2)
            worker.stop()
            left = pending(database)
            database.dispose()
            with httpx.Client(timeout=30) as http:
                calls = http.get(f"{base}/testing/calls").json()
    times = sorted(datetime.fromisoformat(c["at"].replace("Z", "+00:00")) for c in calls if c.get("tenantId"))
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= timedelta(seconds=60):
            start += 1
        best = max(best, end - start + 1)
    too_many = sum(1 for c in calls if c["status"] == 429)
    print(f"sqlite     limits on: {wanted - left}/{wanted} statements delivered in {LIMITED_SECONDS:.0f} s; "
          f"busiest minute {best} calls of Xero's 60 ({best / 60:.0%} of the tenant budget); 429s: {too_many}")


def main() -> None:
    for kind in ("sqlite", "postgresql"):
        limits_off(kind)
    limits_on()


if __name__ == "__main__":
    main()
