"""Feed health and the /metrics scrape as an account's history grows.

For each database kind, one QuickBooks connection with two connected source accounts: ``small``
(``BENCH_FH_SMALL``, default 10,000 transactions) and ``big`` (``BENCH_FH_BIG``, default 200,000),
each last pulled half-way through its history, so half of it is backlog (the worst case: a feed
whose pulls stopped long ago), with balances that chain. Measured ``BENCH_FH_REPEAT`` times (default
20) after 3 warm-ups, in one transaction, no HTTP: the feed health of each account (backlog count
and oldest, last push, balance chain over the newest 500, days to disconnection), and one scrape of
the gauges /metrics reads from the database. Prints p50/p95 and ``EXPLAIN`` of the backlog and
chain queries on the big account.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from bankfeeds.config import Settings
from bankfeeds.feed_health import service as feed_health
from bankfeeds.feed_health.repository import FeedHealthRepository
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection, SourceAccount
from bankfeeds.observability.metrics import WorkWaiting
from bench.bench_idx import _push_operation, analyze, fill, make_feed
from bench.common import fresh_database

SMALL = int(os.environ.get("BENCH_FH_SMALL", "10000"))
BIG = int(os.environ.get("BENCH_FH_BIG", "200000"))
REPEAT = int(os.environ.get("BENCH_FH_REPEAT", "20"))
STEP = 60.0  # one transaction a minute


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def run(kind: str) -> None:
    with fresh_database(kind, label="feedhealth") as url:
        if url is None:
            return
        settings = Settings(environment="test", database_url=url, secret_key="bench", run_worker=False,
                            idx_partner_key="bench-partner-key")
        database = Database(url)
        now = datetime.now(UTC).replace(microsecond=0)
        clock = FrozenClock(now)
        feed = make_feed(database, settings, now)
        sizes = {"small": SMALL, "big": BIG}
        for label, count in sizes.items():
            base = now - timedelta(seconds=STEP * (count + 1))
            op = _push_operation(database, feed, f"acc-{label}", now)
            fill(database, feed.accounts[label], op, count, base, STEP, "t")
            with database.unit_of_work() as session:
                account = session.get(SourceAccount, feed.accounts[label])
                assert account is not None
                account.last_pulled_at = base + timedelta(seconds=STEP * count / 2)
                account.connected_at = base
        analyze(database)
        print(f"\n== {kind}: small {SMALL:,}, big {BIG:,} transactions, half of each not yet pulled")
        for label in sizes:
            times = []
            for i in range(REPEAT + 3):
                started = time.perf_counter()
                with database.unit_of_work() as session:
                    account = session.get(SourceAccount, feed.accounts[label])
                    assert account is not None
                    connection = session.get(Connection, account.connection_id)
                    assert connection is not None
                    company = session.get(Company, connection.company_id)
                    assert company is not None
                    health = feed_health.account_health(feed_health.context(session, clock, settings), company,
                                                        connection, account)
                if i >= 3:
                    times.append(time.perf_counter() - started)
            print(f"feed health {label:5}: {_ms(times)}  (backlog {health.backlog.count:,}, "
                  f"chain checked {health.balance_chain.checked_transactions})")
        collector = WorkWaiting(database, clock)
        times = []
        for i in range(REPEAT + 3):
            started = time.perf_counter()
            list(collector.collect())
            if i >= 3:
                times.append(time.perf_counter() - started)
        print(f"/metrics gauges (all feeds): {_ms(times)}")
        with database.unit_of_work() as session:
            account = session.get(SourceAccount, feed.accounts["big"])
            assert account is not None
            repo = FeedHealthRepository(session)
            from sqlalchemy import func

            from bankfeeds.models import BankTransaction

            backlog = select(func.count(), func.min(BankTransaction.modified_at)).where(
                BankTransaction.source_account_id == account.id,
                BankTransaction.modified_at >= account.last_pulled_at)
            prefix = "EXPLAIN QUERY PLAN " if kind == "sqlite" else "EXPLAIN "
            for name, stmt in (("backlog", backlog),):
                compiled = stmt.compile(session.bind, compile_kwargs={"literal_binds": True})
                print(f"-- {name}:")
                for row in session.execute(text(prefix + str(compiled))):
                    print("   ", " ".join(str(c) for c in row))
            repo.chain_rows(account)
        database.dispose()


def main() -> None:
    for kind in os.environ.get("BENCH_FH_DBS", "sqlite,postgresql").split(","):
        run(kind.strip())


if __name__ == "__main__":
    main()
