"""Xero delivery at scale, PostgreSQL, several processes.

Two ``bankfeeds serve`` and two ``bankfeeds worker`` processes share one PostgreSQL database; a
standalone Xero sandbox (``bankfeeds sandbox xero``, Xero's limits ON, its own database) plays
Xero on real time. Ten organisations, three feeds each, ten pushes per feed: 300 pushes through
both servers. The sandbox answers some 429s and 500s, and one worker is SIGKILLed while it holds
deliveries. Every push must end ``Success``, Xero must hold each push's statement exactly once,
and no organisation may see more than 60 calls in any minute.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import simplejson
from sqlalchemy import func, select

from bankfeeds.api_keys import service as api_keys
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import (
    PushOperation,
    StatementDelivery,
    XeroSandboxAccount,
    XeroSandboxMembership,
    XeroSandboxOrganisation,
    XeroSandboxStatement,
    XeroSandboxStatementLine,
    XeroSandboxUser,
)
from bankfeeds.xero_sandbox.seed import DEMO_EMAIL
from tests.fixtures.app import TEST_PROCESS_ENV, basic, free_port, make_settings
from tests.fixtures.database import own_database
from tests.fixtures.serving import stop_processes
from tests.xero.helpers import feed, link, txns

pytestmark = pytest.mark.slow

BANKFEEDS = str(Path(sys.executable).with_name("bankfeeds"))
ORGS = 10
FEEDS_PER_ORG = 3
PUSHES_PER_FEED = 10
CLIENT_ID = "processes-xero-client"
CLIENT_SECRET = "processes-xero-secret-0123456789"
SECRET_KEY = "xero-processes-test-secret"
MINUTE = timedelta(seconds=60)


@pytest.fixture
def pg_urls(pg_process_db: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The hub's database and the sandbox's."""
    with own_database("postgresql", tmp_path) as sandbox:
        yield pg_process_db, sandbox


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([BANKFEEDS, *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url} exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up: {log.read_text()[-3000:]}")


def more_organisations(sandbox_url: str, count: int) -> list[str]:
    """``count`` organisations for the demo user, each with a GBP bank account, added to the sandbox's data."""
    database = Database(sandbox_url)
    now = datetime.now(UTC)
    names = []
    try:
        with database.unit_of_work() as session:
            user = session.scalars(select(XeroSandboxUser).where(XeroSandboxUser.email == DEMO_EMAIL)).one()
            for n in range(count):
                org = XeroSandboxOrganisation(
                    id=uuid.uuid4(), name=f"Load Test Org {n:02d}", legal_name=f"Load Test Org {n:02d} Ltd",
                    base_currency="GBP", country_code="GB", organisation_type="COMPANY", short_code=f"!lt{n:02d}",
                    timezone="GMTSTANDARDTIME", created_at=now)
                session.add(org)
                session.flush()
                session.add(XeroSandboxMembership(user_id=user.id, organisation_id=org.id))
                session.add(XeroSandboxAccount(
                    id=uuid.uuid4(), organisation_id=org.id, code="090", name="Business Current Account",
                    type="BANK", tax_type="NONE", bank_account_number=f"20-00-{n:02d} 00000000",
                    bank_account_type="BANK", currency_code="GBP", status="ACTIVE", created_at=now, updated_at=now))
                names.append(org.name)
    finally:
        database.dispose()
    return names


def max_calls_in_a_minute(times: list[datetime]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= MINUTE:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_300_pushes_to_30_feeds_in_10_organisations_with_a_worker_killed(
        pg_urls: tuple[str, str], tmp_path: Path) -> None:
    hub_url, sandbox_url = pg_urls
    hub_ports = [free_port(), free_port()]
    public = f"http://127.0.0.1:{hub_ports[0]}"
    sandbox_port = free_port()
    sandbox = f"http://127.0.0.1:{sandbox_port}/sandbox/xero"
    env = {
        **os.environ, **TEST_PROCESS_ENV,
        "BANKFEEDS_DATABASE_URL": hub_url, "BANKFEEDS_SECRET_KEY": SECRET_KEY, "BANKFEEDS_PUBLIC_URL": public, "BANKFEEDS_RUN_WORKER": "false",
        "BANKFEEDS_XERO_CLIENT_ID": CLIENT_ID, "BANKFEEDS_XERO_CLIENT_SECRET": CLIENT_SECRET,
        "BANKFEEDS_XERO_AUTHORIZE_URL": f"{sandbox}/identity/connect/authorize",
        "BANKFEEDS_XERO_TOKEN_URL": f"{sandbox}/identity/connect/token",
        "BANKFEEDS_XERO_REVOKE_URL": f"{sandbox}/identity/connect/revocation",
        "BANKFEEDS_XERO_API_URL": f"{sandbox}/api",
        # Short waits so a killed worker's deliveries come back within seconds (lease = 2 x timeout + 10 s).
        "BANKFEEDS_XERO_TIMEOUT_SECONDS": "5", "BANKFEEDS_XERO_STATEMENT_POLL_SECONDS": "1",
        "BANKFEEDS_WORKER_POLL_SECONDS": "0.5",
    }
    procs: list[subprocess.Popen[bytes]] = []
    logs: dict[str, Path] = {}
    try:
        logs["sandbox"] = tmp_path / "sandbox.log"
        procs.append(spawn(["sandbox", "xero", "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
                            "--redirect-uri", f"{public}/link/xero/callback", "--port", str(sandbox_port),
                            "--database-url", sandbox_url], env, logs["sandbox"]))
        wait_up(f"http://127.0.0.1:{sandbox_port}/healthz", procs[-1], logs["sandbox"])
        organisations = more_organisations(sandbox_url, ORGS)
        for i, port in enumerate(hub_ports):
            logs[f"serve{i}"] = tmp_path / f"serve{i}.log"
            procs.append(spawn(["serve", "--host", "127.0.0.1", "--port", str(port)], env, logs[f"serve{i}"]))
            wait_up(f"http://127.0.0.1:{port}/healthz", procs[-1], logs[f"serve{i}"])

        # Link the ten organisations and make three feeds in each (from this process, as the link pages would).
        settings = make_settings(hub_url, secret_key=SECRET_KEY, public_url=public, xero_client_id=CLIENT_ID,
                                 xero_client_secret=CLIENT_SECRET,
                                 xero_authorize_url=f"{sandbox}/identity/connect/authorize",
                                 xero_token_url=f"{sandbox}/identity/connect/token",
                                 xero_revoke_url=f"{sandbox}/identity/connect/revocation",
                                 xero_api_url=f"{sandbox}/api")
        database = Database(hub_url)
        clock = SystemClock()
        with database.unit_of_work() as session:
            _, key = api_keys.create(session, clock, "processes")
        feeds = []
        with httpx.Client(timeout=30) as http:
            for org in organisations:
                company, connection, tenant = link(database, clock, settings, http, org,
                                                   company_name=org)
                for f in range(FEEDS_PER_ORG):
                    feeds.append(feed(database, clock, settings, http, company, connection, tenant,
                                      f"acc-{f}", balance=Decimal("1000.00")))

        # The workers start now, and Xero misbehaves a little.
        for i in range(2):
            logs[f"worker{i}"] = tmp_path / f"worker{i}.log"
            procs.append(spawn(["worker"], env, logs[f"worker{i}"]))
        with httpx.Client(timeout=60) as http:
            for kind in ("429", "500"):
                assert http.post(f"{sandbox}/testing/faults", json={"kind": kind, "count": 3, "retryAfter": 2}
                                 ).status_code == 204

        auth = {"Authorization": basic(key), "Content-Type": "application/json"}
        now = datetime.now(UTC)

        def push_all(n: int) -> list[str]:
            f = feeds[n]
            keys = []
            with httpx.Client(timeout=30) as http:
                opening = Decimal("1000.00")
                for p in range(PUSHES_PER_FEED):
                    batch = txns(p * 3 + 1, 1 + p % 3, opening=opening, day=1)
                    day = (now - timedelta(days=PUSHES_PER_FEED - p)).strftime("%Y-%m-%d")
                    for j, t in enumerate(batch):
                        t["date"] = f"{day}T09:{j:02d}:00"
                    opening = batch[-1]["balance"]
                    url = (f"http://127.0.0.1:{hub_ports[(n + p) % 2]}/companies/{f.company.id}/connections/"
                           f"{f.connection.id}/push/bankAccounts/{f.account.account_id}/bankTransactions")
                    body = simplejson.dumps({"accountId": f.account.account_id, "transactions": batch},
                                            use_decimal=True)
                    r = http.post(url, content=body, headers=auth)
                    assert r.status_code == 200, r.text
                    assert r.json()["status"] == "Pending", r.text
                    keys.append(r.json()["pushOperationKey"])
            return keys

        with ThreadPoolExecutor(max_workers=6) as pool:
            pushed = [k for keys in pool.map(push_all, range(len(feeds))) for k in keys]
        assert len(pushed) == ORGS * FEEDS_PER_ORG * PUSHES_PER_FEED

        # Kill one worker while it holds deliveries.
        victim = procs[-2]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with database.unit_of_work() as session:
                leased = session.scalar(select(func.count()).select_from(StatementDelivery)
                                        .where(StatementDelivery.lease_until.is_not(None)))
            if leased:
                break
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with database.unit_of_work() as session:
                left = session.scalar(select(func.count()).select_from(PushOperation)
                                      .where(PushOperation.status != "Success"))
            if left == 0:
                break
            time.sleep(1)
        with database.unit_of_work() as session:
            statuses = Counter(session.scalars(select(PushOperation.status)))
        assert statuses == {"Success": len(pushed)}, statuses

        # Xero holds each push's statement exactly once, each transaction exactly once.
        xdb = Database(sandbox_url)
        try:
            with xdb.unit_of_work() as session:
                delivered = session.scalar(select(func.count()).select_from(XeroSandboxStatement)
                                           .where(XeroSandboxStatement.status == "DELIVERED"))
                lines = Counter(session.execute(select(XeroSandboxStatementLine.feed_connection_id,
                                                       XeroSandboxStatementLine.transaction_id)).all())
        finally:
            xdb.dispose()
        assert delivered == len(pushed)
        assert max(lines.values()) == 1
        assert sum(lines.values()) == sum(1 + p % 3 for p in range(PUSHES_PER_FEED)) * len(feeds)

        # No organisation ever saw more than 60 calls in a minute; the only 429s are the injected ones.
        with httpx.Client(timeout=30) as http:
            calls = http.get(f"{sandbox}/testing/calls").json()
        per_tenant: dict[str, list[datetime]] = defaultdict(list)
        for call in calls:
            if call.get("tenantId"):
                per_tenant[call["tenantId"]].append(datetime.fromisoformat(call["at"].replace("Z", "+00:00")))
        assert len(per_tenant) == ORGS
        busiest = max(max_calls_in_a_minute(t) for t in per_tenant.values())
        assert busiest <= 60, busiest
        assert sum(1 for c in calls if c["status"] == 429) == 3
        for name, log in logs.items():
            if name != "worker0":
                assert "Traceback" not in log.read_text(), f"{name}: {log.read_text()[-3000:]}"
        database.dispose()
    finally:
        stop_processes(procs, grace=20)
