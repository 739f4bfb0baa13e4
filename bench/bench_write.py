"""Write throughput: create-bank-transactions over real HTTP vs. storing the same rows raw.

For each database kind (SQLite file, throwaway PostgreSQL database):

* **raw store (driver)**, the floor the API is measured against (issue 10's definition): parse each
  batch with a fast JSON parser (msgspec, numbers as exact Decimals), then the bare driver: stdlib
  ``sqlite3`` ``executemany`` of a plain INSERT with the app's pragmas and BEGIN IMMEDIATE, commit;
  on PostgreSQL psycopg ``COPY ... FROM STDIN``, commit. No SQLAlchemy, no validation.
* **raw store (ORM bulk)**: parse each batch's JSON (Decimals exact), build the rows, one
  ``session.execute(insert(BankTransaction), rows)``, commit. No app, no HTTP, no validation.
* **raw store (app's SQL)**: the same, but storing with the statement the API uses
  (``BankTransactionRepository.insert_new``: INSERT ... ON CONFLICT DO NOTHING RETURNING, one
  statement per batch), so the comparison isolates what the app adds around storage.
* **API**: the same JSON bodies POSTed to ``create-bank-transactions`` on uvicorn (a subprocess on a
  real port, with a real API key), 1000 transactions per request, one QuickBooks source account;
  every response must be a 200 ``Success``.

Each mode writes to its own freshly migrated database; their batches are interleaved (rotating
order) so all see the same machine load. A mode's rate is its transactions over the time spent in
its batches. The ratio is API / raw store (driver); API / the SQLAlchemy raw stores (the former
baseline, which flattered the API) is printed too.
Prints the rates, the ratio and the p50/p99 latency of one batch. Environment:

* ``BENCH_WRITE_TRANSACTIONS`` (default 100000), ``BENCH_WRITE_BATCH`` (default 1000)
* ``BENCH_WRITE_DBS`` (default ``sqlite,postgresql``; PostgreSQL is skipped when unreachable)
* ``BANKFEEDS_BENCH_PG_URL`` admin URL (default ``postgresql://postgres@127.0.0.1:5432/postgres``)
"""

from __future__ import annotations

import base64
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import simplejson
from sqlalchemy import func, insert, select
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.fixtures.serving import free_port, serving_process

from bankfeeds.api_keys import service as api_keys
from bankfeeds.bank_transactions.repository import BankTransactionRepository
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction, PushOperation
from bench.common import each_database_kind, fresh_database

WARMUP_BATCHES = 3
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0


@dataclass
class Result:
    label: str
    transactions: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.transactions / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


# ---------------------------------------------------------------- data


def make_bodies(account_id: str, total: int, batch: int, *, seed: int = 7) -> list[bytes]:
    """Chronological batches ending a little before now, amounts with 2 decimals, running balance."""
    rng = random.Random(seed)
    start = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=3)
    balance = Decimal("1000.00")
    bodies = []
    for first in range(0, total, batch):
        txns = []
        for i in range(first, min(first + batch, total)):
            cents = rng.randint(-50_000, 50_000) or 1
            amount = Decimal(cents).scaleb(-2)
            balance += amount
            txns.append({
                "id": f"txn-{i:09d}",
                "date": (start + timedelta(seconds=i)).isoformat(),
                "description": f"Card payment {i} at Merchant {i % 97} Ltd",
                "amount": amount,
                "balance": balance,
                "transactionType": "Credit" if amount > 0 else "Debit",
            })
        bodies.append(simplejson.dumps({"accountId": account_id, "transactions": txns}, use_decimal=True).encode())
    return bodies


# ---------------------------------------------------------------- databases




@dataclass
class Feed:
    company_id: uuid.UUID
    connection_id: uuid.UUID
    accounts: dict[str, uuid.UUID]


def make_feed(db: Database, account_ids: list[str]) -> Feed:
    """A company with a Linked QuickBooks connection and connected source accounts."""
    clock = SystemClock()
    company = make_company(db, clock, "Bench Ltd")
    connection = make_connection(db, clock, company, status="Linked")
    accounts = {a: make_source_account(db, clock, connection, a, account_name=a, feed_start_date=date.today()).id
                for a in account_ids}
    return Feed(company.id, connection.id, accounts)


def count_rows(db: Database, account_pk: uuid.UUID) -> int:
    with db.unit_of_work() as s:
        return int(s.scalar(select(func.count()).where(BankTransaction.source_account_id == account_pk)) or 0)


# ---------------------------------------------------------------- raw store


class RawStore:
    """Store batches with no app: parse, build rows, one bulk insert, commit."""

    def __init__(self, url: str, label: str, app_sql: bool) -> None:
        self.db = Database(url)
        self.label = label
        self.app_sql = app_sql
        self.feed = make_feed(self.db, ["raw", "raw-warmup"])
        now = datetime.now(UTC)
        self.key = uuid.uuid4()
        with self.db.unit_of_work() as s:
            s.add(PushOperation(key=self.key, company_id=self.feed.company_id, connection_id=self.feed.connection_id,
                                source_account_id="raw", data_type="bankTransactions", status="Success",
                                status_code=200, requested_at=now, validation={}, transaction_count=0))

    def batch(self, body: bytes, account: str = "raw") -> None:
        account_pk = self.feed.accounts[account]
        data = simplejson.loads(body, use_decimal=True)
        now = datetime.now(UTC)
        if self.app_sql:
            txns = [
                SimpleNamespace(
                    id=t["id"], date=datetime.fromisoformat(t["date"]), description=t.get("description"),
                    counterparty=t.get("counterparty"), reference=t.get("reference"),
                    reconciled=t.get("reconciled"), amount=Decimal(t["amount"]), balance=Decimal(t["balance"]),
                    transaction_type=t.get("transactionType"),
                )
                for t in data["transactions"]
            ]
            with self.db.unit_of_work() as s:
                BankTransactionRepository(s).insert_new(account_pk, self.key, now, txns)
            return
        rows = [
            {
                "source_account_id": account_pk,
                "push_operation_key": self.key,
                "transaction_id": t["id"],
                "date": datetime.fromisoformat(t["date"]),
                "description": t.get("description"),
                "counterparty": t.get("counterparty"),
                "reference": t.get("reference"),
                "reconciled": t.get("reconciled"),
                "amount": Decimal(t["amount"]),
                "balance": Decimal(t["balance"]),
                "transaction_type": t.get("transactionType"),
                "modified_at": now,
            }
            for t in data["transactions"]
        ]
        with self.db.unit_of_work() as s:
            s.execute(insert(BankTransaction), rows)

    def stored(self) -> int:
        return count_rows(self.db, self.feed.accounts["raw"])

    def close(self) -> None:
        self.db.dispose()


_DRIVER_COLUMNS = ("source_account_id", "push_operation_key", "transaction_id", "date", "description",
                   "counterparty", "reference", "reconciled", "amount", "balance", "transaction_type",
                   "modified_at")


class DriverStore:
    """The floor: a fast JSON parse, then the bare driver (sqlite3 executemany / psycopg COPY)."""

    label = "raw store (driver)"

    def __init__(self, url: str) -> None:
        import msgspec

        db = Database(url)
        self.feed = make_feed(db, ["raw", "raw-warmup"])
        self.key = uuid.uuid4()
        with db.unit_of_work() as s:
            s.add(PushOperation(key=self.key, company_id=self.feed.company_id, connection_id=self.feed.connection_id,
                                source_account_id="raw", data_type="bankTransactions", status="Success",
                                status_code=200, requested_at=datetime.now(UTC), validation={}, transaction_count=0))
        db.dispose()
        self.decoder = msgspec.json.Decoder(float_hook=Decimal)
        self.sqlite = url.startswith("sqlite")
        self.url = url
        if self.sqlite:
            import sqlite3

            self.conn: Any = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None, timeout=30)
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL"):
                self.conn.execute(f"PRAGMA {pragma}")
            self.sql = (f"INSERT INTO bank_transactions ({', '.join(_DRIVER_COLUMNS)}) "
                        f"VALUES ({', '.join('?' for _ in _DRIVER_COLUMNS)})")
        else:
            import psycopg

            self.conn = psycopg.connect(url)
            self.sql = f"COPY bank_transactions ({', '.join(_DRIVER_COLUMNS)}) FROM STDIN"

    def batch(self, body: bytes, account: str = "raw") -> None:
        account_pk = self.feed.accounts[account]
        data = self.decoder.decode(body)
        now = datetime.now(UTC)
        if self.sqlite:
            account_hex, key_hex, modified = account_pk.hex, self.key.hex, now.isoformat(" ")
            rows = [
                (account_hex, key_hex, t["id"], datetime.fromisoformat(t["date"]).isoformat(" "),
                 t.get("description"), t.get("counterparty"), t.get("reference"), t.get("reconciled"),
                 format(Decimal(t["amount"]), "f"), format(Decimal(t["balance"]), "f"), t.get("transactionType"),
                 modified)
                for t in data["transactions"]
            ]
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(self.sql, rows)
            self.conn.execute("COMMIT")
            return
        with self.conn.cursor() as cur, cur.copy(self.sql) as copy:
            for t in data["transactions"]:
                copy.write_row((account_pk, self.key, t["id"], datetime.fromisoformat(t["date"]),
                                t.get("description"), t.get("counterparty"), t.get("reference"),
                                t.get("reconciled"), Decimal(t["amount"]), Decimal(t["balance"]),
                                t.get("transactionType"), now))
        self.conn.commit()

    def stored(self) -> int:
        db = Database(self.url)
        try:
            return count_rows(db, self.feed.accounts["raw"])
        finally:
            db.dispose()

    def close(self) -> None:
        self.conn.close()


# ---------------------------------------------------------------- API


@contextmanager
def server(url: str) -> Iterator[str]:
    port = free_port()
    # The server's log lines go to a file, as a deployment's would (not to this terminal).
    log = tempfile.TemporaryFile()  # noqa: SIM115
    env = {**os.environ, "BANKFEEDS_DATABASE_URL": url, "BANKFEEDS_RUN_WORKER": "false",
           "BANKFEEDS_ENVIRONMENT": "development", "BANKFEEDS_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "bankfeeds.app:asgi_app", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log"]
    try:
        with serving_process(cmd, port, env=env, log=log, timeout=30):
            yield f"http://127.0.0.1:{port}"
    finally:
        log.close()


class Api:
    """POST batches to create-bank-transactions on a uvicorn subprocess."""

    def __init__(self, url: str, base: str) -> None:
        self.db = Database(url)
        self.label = "API"
        self.feed = make_feed(self.db, ["api", "api-warmup"])
        with self.db.unit_of_work() as s:
            _, raw_key = api_keys.create(s, SystemClock(), "bench")
        headers = {"Authorization": "Basic " + base64.b64encode(raw_key.encode()).decode(),
                   "Content-Type": "application/json"}
        self.prefix = f"/companies/{self.feed.company_id}/connections/{self.feed.connection_id}/push/bankAccounts"
        self.client = httpx.Client(base_url=base, headers=headers, timeout=60)

    def batch(self, body: bytes, account: str = "api") -> None:
        _post(self.client, f"{self.prefix}/{account}/bankTransactions", body)

    def stored(self) -> int:
        return count_rows(self.db, self.feed.accounts["api"])

    def close(self) -> None:
        self.client.close()
        self.db.dispose()


def _post(client: httpx.Client, path: str, body: bytes) -> dict[str, Any]:
    response = client.post(path, content=body)
    if response.status_code != 200:
        raise RuntimeError(f"write failed: {response.status_code} {response.text[:500]}")
    op: dict[str, Any] = response.json()
    if op["status"] != "Success":
        raise RuntimeError(f"push operation {op['status']}: {op.get('errorMessage')}")
    return op


# ---------------------------------------------------------------- main


def bench_kind(kind: str, total: int, batch: int, tmp: Path) -> list[Result]:
    """Results in the order driver, ORM bulk, app's SQL, API."""
    bodies = {
        "raw": make_bodies("raw", total, batch),
        "api": make_bodies("api", total, batch),
    }
    warm = {
        "raw": make_bodies("raw-warmup", WARMUP_BATCHES * batch, batch, seed=1),
        "api": make_bodies("api-warmup", WARMUP_BATCHES * batch, batch, seed=1),
    }
    with ExitStack() as stack:
        driver = stack.enter_context(closing(DriverStore(
            stack.enter_context(fresh_database(kind, tmp, label="write", required=True)))))
        orm = stack.enter_context(closing(RawStore(stack.enter_context(fresh_database(kind, tmp, label="write", required=True)),
                                                   "raw store (ORM bulk insert)", app_sql=False)))
        sql = stack.enter_context(closing(RawStore(stack.enter_context(fresh_database(kind, tmp, label="write", required=True)),
                                                   "raw store (app's SQL)", app_sql=True)))
        api_url = stack.enter_context(fresh_database(kind, tmp, label="write", required=True))
        api = stack.enter_context(closing(Api(api_url, stack.enter_context(server(api_url)))))
        modes: list[DriverStore | RawStore | Api] = [driver, orm, sql, api]
        for mode in modes:
            for body in warm["api" if mode is api else "raw"]:
                mode.batch(body, "api-warmup" if mode is api else "raw-warmup")
        latencies: dict[str, list[float]] = {m.label: [] for m in modes}
        for i in range(len(bodies["raw"])):
            # Rotate the order so no mode always runs right after another.
            for mode in modes[i % len(modes):] + modes[:i % len(modes)]:
                body = bodies["api" if mode is api else "raw"][i]
                t0 = time.perf_counter()
                mode.batch(body)
                latencies[mode.label].append(time.perf_counter() - t0)
        results = []
        for mode in modes:
            stored = mode.stored()
            if stored != total:
                raise RuntimeError(f"{kind} {mode.label}: stored {stored}, expected {total}")
            lat = latencies[mode.label]
            results.append(Result(mode.label, stored, sum(lat), lat))
        return results


def main() -> None:
    total = int(os.environ.get("BENCH_WRITE_TRANSACTIONS", "100000"))
    batch = int(os.environ.get("BENCH_WRITE_BATCH", "1000"))
    print(f"write benchmark: {total} transactions in batches of {batch}, "
          f"{WARMUP_BATCHES} warm-up batches excluded", flush=True)
    table = []
    for kind, tmp in each_database_kind("BENCH_WRITE_DBS"):
        driver, orm, sql, api = bench_kind(kind, total, batch, tmp)
        ratio = api.rate / driver.rate
        table.append((kind, driver, orm, sql, api, ratio))
        for r in (driver, orm, sql, api):
            print(f"{kind:<11} {r.label:<28} {r.rate:>9,.0f} txn/s  batch p50 {r.pct(50):6.1f} ms  "
                  f"p99 {r.pct(99):6.1f} ms", flush=True)
        ok = ratio >= TARGET_RATIO and api.pct(99) <= TARGET_P99_MS
        verdict = "OK" if ok else f"BELOW TARGET (ratio {TARGET_RATIO}, batch p99 {TARGET_P99_MS:g} ms)"
        print(f"{kind:<11} API / {driver.label}: {ratio:.2f} {verdict} "
              f"(former baselines: API / ORM bulk insert {api.rate / orm.rate:.2f}, "
              f"API / app's SQL {api.rate / sql.rate:.2f})", flush=True)
    if table:
        print("\n| database | raw driver txn/s | raw ORM bulk txn/s | raw app SQL txn/s | API txn/s | API/raw driver "
              "| API/raw ORM | API batch p50 / p99 ms | raw driver batch p50 / p99 ms |")
        print("|---|---|---|---|---|---|---|---|---|")
        for kind, driver, orm, sql, api, ratio in table:
            print(f"| {kind} | {driver.rate:,.0f} | {orm.rate:,.0f} | {sql.rate:,.0f} | {api.rate:,.0f} | {ratio:.2f} | "
                  f"{api.rate / orm.rate:.2f} | {api.pct(50):.1f} / {api.pct(99):.1f} | "
                  f"{driver.pct(50):.1f} / {driver.pct(99):.1f} |")


if __name__ == "__main__":
    main()
