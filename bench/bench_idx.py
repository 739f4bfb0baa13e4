"""IDX pulls: the time of one 1000-transaction page, and whether a daily pull stays flat as history grows.

For each database kind (SQLite file, throwaway PostgreSQL database), one QuickBooks connection with
two connected source accounts is made:

* ``small``: ``BENCH_IDX_SMALL`` (default 10,000) transactions of history, modified over the two
  years before yesterday, plus 1000 transactions modified yesterday;
* ``big``: ``BENCH_IDX_BIG`` (default 1,000,000) of history, plus the same 1000 of yesterday.

History is generated with one ``INSERT ... SELECT`` per account (recursive CTE on SQLite,
``generate_series`` on PostgreSQL), then ``ANALYZE``. A credential pair is minted through
``credentials.service`` and the app is served by uvicorn on a real port (in a thread).

Measured per account, ``BENCH_IDX_REPEAT`` times (default 30) after 3 warm-ups:

* **daily pull**: ``GET /partners/intuit/idx/accounts/{id}/transactions?startDate=<yesterday>&endDate=<today>``
  with ``pageSize=1000`` over HTTP: one page of exactly 1000 transactions, with its auth, its count,
  its writes (last pull stamps) and its JSON; p50 and p95;
* **queries only**: the count and the page query of that pull, in one transaction, no HTTP;
* **full-history first page** (no startDate, for contrast): counting the whole history is O(history).

It prints ``EXPLAIN`` of the page and count queries on the big account (the plan must be a range
on ``ix_bank_transactions_account_modified``) and the big/small ratios. Environment:
``BENCH_IDX_DBS`` (default ``sqlite,postgresql``; PostgreSQL skipped when unreachable),
``BANKFEEDS_BENCH_PG_URL`` admin URL (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import base64
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event, text
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.fixtures.serving import LiveServer

from bankfeeds.app import create_app
from bankfeeds.config import Settings
from bankfeeds.credentials import service as credentials
from bankfeeds.idx.repository import IdxRepository
from bankfeeds.kit.clock import FrozenClock, SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Connection, PushOperation
from bench.common import fresh_database

SMALL = int(os.environ.get("BENCH_IDX_SMALL", "10000"))
BIG = int(os.environ.get("BENCH_IDX_BIG", "1000000"))
REPEAT = int(os.environ.get("BENCH_IDX_REPEAT", "30"))
DAILY = 1000
WARMUP = 3
PARTNER_KEY = "bench-partner-key"


@dataclass
class Timings:
    samples: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) * 1000


# ---------------------------------------------------------------- databases




def settings_for(url: str) -> Settings:
    return Settings(environment="test", database_url=url, secret_key="bench-secret", run_worker=False,
                    idx_partner_key=PARTNER_KEY, public_url="http://127.0.0.1")


# ---------------------------------------------------------------- data


@dataclass
class Feed:
    connection_id: uuid.UUID
    accounts: dict[str, uuid.UUID]
    username: str
    password: str


def make_feed(database: Database, settings: Settings, now: datetime) -> Feed:
    clock = FrozenClock(now)
    company = make_company(database, clock, "Bench Co")
    connection = make_connection(database, clock, company, status="Linked")
    accounts = {label: make_source_account(database, clock, connection, f"acc-{label}",
                                           account_name=f"Checking {label}",
                                           feed_start_date=now.date() - timedelta(days=800)).id
                for label in ("small", "big")}
    with database.unit_of_work() as session:
        pair = credentials.generate(session, SystemClock(), settings, connection)
    return Feed(connection.id, accounts, pair.username, pair.password)


def _push_operation(database: Database, feed: Feed, account: str, now: datetime) -> uuid.UUID:
    with database.unit_of_work() as session:
        company_id = session.get(Connection, feed.connection_id).company_id  # type: ignore[union-attr]
        op = PushOperation(key=uuid.uuid4(), company_id=company_id, connection_id=feed.connection_id,
                           source_account_id=account, status="Success", status_code=200, requested_at=now,
                           completed_at=now, validation={}, transaction_count=0)
        session.add(op)
        return op.key


def fill(database: Database, account_id: uuid.UUID, op: uuid.UUID, count: int, base: datetime, step_seconds: float,
         prefix: str) -> None:
    """``count`` rows modified at base + i*step (i = 1..count), in one INSERT ... SELECT."""
    columns = ("source_account_id, push_operation_key, transaction_id, date, description, amount, balance, "
               "transaction_type, modified_at")
    if database.dialect == "sqlite":
        stamp = "strftime('%Y-%m-%d %H:%M:%S', :base, '+' || CAST(i * :step AS INTEGER) || ' seconds') || '.000000'"
        sql = (f"INSERT INTO bank_transactions ({columns}) "
               f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
               f"SELECT :acc, :op, :prefix || i, {stamp}, 'Transaction ' || i, "
               f"CASE WHEN i % 3 = 0 THEN '-12.50' ELSE '100.00' END, '1000.00', 'Debit', {stamp} FROM n")
        params: dict[str, Any] = {"acc": account_id.hex, "op": op.hex, "base": base.strftime("%Y-%m-%d %H:%M:%S")}
    else:
        stamp = "CAST(:base AS timestamptz) + make_interval(secs => i * CAST(:step AS double precision))"
        sql = (f"INSERT INTO bank_transactions ({columns}) "
               f"SELECT CAST(:acc AS uuid), CAST(:op AS uuid), :prefix || i, ({stamp}) AT TIME ZONE 'UTC', "
               f"'Transaction ' || i, CASE WHEN i % 3 = 0 THEN -12.50 ELSE 100.00 END, 1000.00, 'Debit', {stamp} "
               f"FROM generate_series(1, :count) AS i")
        params = {"acc": str(account_id), "op": str(op), "base": base.isoformat()}
    with database.engine.begin() as conn:
        conn.execute(text(sql), {**params, "count": count, "step": step_seconds, "prefix": prefix})


def analyze(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    if database.dialect == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) bank_transactions"))


# ---------------------------------------------------------------- serving


def serving(settings: Settings, database: Database) -> LiveServer:
    return LiveServer(create_app(settings, database=database, run_worker=False), access_log=False, lifespan="auto")


# ---------------------------------------------------------------- measuring


def pull(client: httpx.Client, account: str, params: dict[str, str], expect: int) -> float:
    started = time.perf_counter()
    r = client.get(f"/partners/intuit/idx/accounts/{account}/transactions", params=params)
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise RuntimeError(f"pull failed: {r.status_code} {r.text[:300]}")
    body = r.json()
    if len(body["results"]) != expect:
        raise RuntimeError(f"expected {expect} results, got {len(body['results'])} of {body['totalResults']}")
    return elapsed


def time_pulls(client: httpx.Client, params: dict[str, str], repeat: int) -> dict[str, Timings]:
    """Small and big pulled alternately, so load on the machine weighs on both alike."""
    out = {label: Timings() for label in ("small", "big")}
    for i in range(WARMUP + repeat):
        for label in ("small", "big"):
            elapsed = pull(client, f"acc-{label}", params, DAILY)
            if i >= WARMUP:
                out[label].samples.append(elapsed)
    return out


def time_queries(database: Database, accounts: dict[str, uuid.UUID], start: datetime, end: datetime,
                 repeat: int) -> dict[str, Timings]:
    out = {label: Timings() for label in ("small", "big")}
    for i in range(WARMUP + repeat):
        for label in ("small", "big"):
            started = time.perf_counter()
            with database.unit_of_work() as session:
                rows, total = IdxRepository(session).transactions(accounts[label], start, end, 0, DAILY)
            if len(rows) != DAILY:
                raise RuntimeError(f"expected {DAILY} rows, got {len(rows)} of {total}")
            if i >= WARMUP:
                out[label].samples.append(time.perf_counter() - started)
    return out


def explain(database: Database, account_id: uuid.UUID, start: datetime, end: datetime) -> list[str]:
    """The plans of the exact statements a pull runs (captured from the driver), on this database."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM bank_transactions" in statement:
            captured.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.unit_of_work() as session:
            IdxRepository(session).transactions(account_id, start, end, 0, DAILY)
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    lines = []
    prefix = "EXPLAIN QUERY PLAN " if database.dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    with database.engine.connect() as conn:
        for statement, parameters in captured:
            kind = "count" if "count(" in statement.lower() else "page"
            rows = conn.exec_driver_sql(prefix + statement, parameters).fetchall()
            plan = [" | ".join(str(c) for c in row[-1:]) for row in rows]
            lines.append(f"  [{kind}] " + "\n          ".join(plan))
    return lines


def run(kind: str, url: str) -> dict[str, Any]:
    settings = settings_for(url)
    database = Database(url)
    now = datetime.now(UTC)
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    yesterday = today - timedelta(days=1)
    feed = make_feed(database, settings, now)
    started = time.perf_counter()
    for label, history in (("small", SMALL), ("big", BIG)):
        op = _push_operation(database, feed, f"acc-{label}", now)
        span = 730 * 86400
        fill(database, feed.accounts[label], op, history, yesterday - timedelta(seconds=span) - timedelta(hours=1),
             span / history, f"{label}-h-")
        fill(database, feed.accounts[label], op, DAILY, yesterday, 60.0, f"{label}-d-")
    analyze(database)
    print(f"[{kind}] generated {SMALL:,} + {BIG:,} rows of history (+{DAILY} each for yesterday) "
          f"in {time.perf_counter() - started:.1f} s")

    daily = {"startDate": yesterday.date().isoformat(), "endDate": today.date().isoformat(), "pageSize": str(DAILY)}
    auth = base64.b64encode(f"{feed.username}:{feed.password}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "X-Partner-Key": base64.b64encode(PARTNER_KEY.encode()).decode()}
    result: dict[str, Any] = {"kind": kind}
    with serving(settings, database) as server, httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        for key, timings in (
            ("http", time_pulls(client, daily, REPEAT)),
            ("db", time_queries(database, feed.accounts, yesterday, today, REPEAT)),
            ("full", time_pulls(client, {"pageSize": str(DAILY)}, max(3, REPEAT // 5))),
        ):
            for label, t in timings.items():
                result[f"{key}_{label}"] = t
    for label in ("small", "big"):
        print(f"[{kind}] EXPLAIN of the daily pull's queries on the {label} account:")
        for line in explain(database, feed.accounts[label], yesterday, today):
            print(line)
    database.dispose()
    return result


def report(results: list[dict[str, Any]]) -> None:
    print()
    load = os.getloadavg()
    print(f"Machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          "(1/5/15 min) at the end of the run")
    print(f"One IDX transactions page of {DAILY} transactions (daily window), over HTTP; history "
          f"{SMALL:,} vs {BIG:,}; {REPEAT} runs after {WARMUP} warm-ups; milliseconds")
    head = f"{'db':<11}{'measure':<34}{'small p50':>10}{'p95':>8}{'big p50':>10}{'p95':>8}{'big/small':>11}"
    print(head)
    print("-" * len(head))
    for r in results:
        for key, label in (("http", "daily pull, HTTP (1000 txns)"), ("db", "daily pull, queries only"),
                           ("full", "first page, no startDate (contrast)")):
            s, b = r[f"{key}_small"], r[f"{key}_big"]
            print(f"{r['kind']:<11}{label:<34}{s.p50:>10.1f}{s.p(95):>8.1f}{b.p50:>10.1f}{b.p(95):>8.1f}"
                  f"{b.p50 / s.p50:>10.2f}x")


def main() -> None:
    kinds = [k.strip() for k in os.environ.get("BENCH_IDX_DBS", "sqlite,postgresql").split(",") if k.strip()]
    results = []
    for kind in kinds:
        with fresh_database(kind, label="idx") as url:
            if url is not None:
                results.append(run(kind, url))
    report(results)


if __name__ == "__main__":
    main()
