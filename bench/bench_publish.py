"""``bankfeeds publish`` end to end: one 100,000-transaction camt.053 file into a QuickBooks feed.

For each database kind (SQLite file, throwaway PostgreSQL database when reachable), a company with a
Linked QuickBooks connection and one connected source account is written straight to a migrated
database, an API key minted, and the app served by uvicorn on a real port (in a thread of this
process, so the hub's time can be measured around each request by an ASGI wrapper). A synthetic
camt.053 file of ``BENCH_PUBLISH_COUNT`` (default 100,000) booked entries over 20 days is written,
then published with the same ``Publisher`` and HTTP client the command uses (journal in a temporary
folder, batches of 1000, each push operation waited for).

Printed per database: the total, and where the time went:

* **parse**: reading the XML (expat, streaming) into statements, balances checked and computed;
* **plan**: ids, de-duplication, chronological order, batching;
* **hub**: time spent inside the app handling the requests (validation, inserts, commit), measured
  around the ASGI call;
* **network + HTTP**: the client's wait for answers less the hub's time (sockets, uvicorn, h11,
  httpx);
* **client send path**: JSON encoding of each batch and the journal's fsynced records.

Then a re-run of the same file (everything skipped from the journal: the price of "safe to re-run").
Environment: ``BENCH_PUBLISH_COUNT``, ``BENCH_PUBLISH_DBS`` (default ``sqlite,postgresql``),
``BANKFEEDS_BENCH_PG_URL``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func, select
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.fixtures.serving import free_port, serving_process

from bankfeeds.api_keys import service as api_keys
from bankfeeds.app import create_app
from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock, SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction
from bankfeeds.publish.client import BankFeedsClient
from bankfeeds.publish.runner import Options, Publisher
from bankfeeds.publish.synthetic import write_camt053
from bench.common import fresh_database

COUNT = int(os.environ.get("BENCH_PUBLISH_COUNT", "100000"))
DBS = os.environ.get("BENCH_PUBLISH_DBS", "sqlite,postgresql").split(",")
IBAN = "DE89370400440532013000"




class HubTimer:
    """ASGI wrapper: seconds from a request's arrival to its last response byte, summed over requests.

    ``GET /__bench/hub`` answers the sums (and resets them) so the publishing process can read them.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seconds = 0.0
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/__bench/hub":
            body = json.dumps({"seconds": self.seconds, "requests": self.requests}).encode()
            self.seconds, self.requests = 0.0, 0
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.seconds += time.perf_counter() - started
                self.requests += 1
            await send(message)

        await self.app(scope, receive, timed_send)


def serve_forever(url: str, port: int) -> None:
    """The hub alone in this process (the benchmark starts it), so it never shares a GIL with the client."""
    settings = Settings(environment="test", database_url=url, secret_key="bench-secret", run_worker=False,
                        idx_partner_key="bench-partner-key", public_url="http://127.0.0.1")
    app = HubTimer(create_app(settings, database=Database(url), run_worker=False))
    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                  lifespan="on")).run()


@contextmanager
def serve(url: str) -> Iterator[str]:
    port = free_port()
    with serving_process([sys.executable, "-m", "bench.bench_publish", "serve", url, str(port)], port,
                         cwd=Path(__file__).resolve().parent.parent):
        yield f"http://127.0.0.1:{port}"


def hub_time(base: str) -> tuple[float, int]:
    data = httpx.get(base + "/__bench/hub").json()
    return float(data["seconds"]), int(data["requests"])


def make_feed(database: Database, now: datetime) -> tuple[str, str, str]:
    clock = FrozenClock(now)
    company = make_company(database, clock, "Bench Co")
    connection = make_connection(database, clock, company, status="Linked")
    make_source_account(database, clock, connection, "bench-acc", account_name="Bench checking", currency="EUR",
                        feed_start_date=now.date() - timedelta(days=40))
    with database.unit_of_work() as session:
        _, key = api_keys.create(session, SystemClock(), "bench")
    return str(company.id), str(connection.id), key


def run_one(kind: str, tmp: Path, statement: Path, first: date) -> None:
    with fresh_database(kind, tmp, label="publish") as url:
        if url is None:
            return
        database = Database(url)
        now = datetime.now(UTC)
        company, connection, key = make_feed(database, now)
        with serve(url) as server_url:
            hub_time(server_url)
            options = Options(server_url=server_url, company=company, connection=connection, account="bench-acc",
                              state_dir=tmp / f"state-{kind}", wait_timeout=60)
            client = BankFeedsClient(server_url, key)
            result = Publisher(options, client).run([str(statement)])
            client.close()
            t = result.timings
            hub, hub_requests = hub_time(server_url)
            published = sum(f.published for f in result.files)
            with database.unit_of_work() as session:
                stored = session.scalar(select(func.count()).select_from(BankTransaction))
            print(f"\n[{kind}] published {published:,} of {COUNT:,} (stored {stored:,}), exit code {result.exit_code},"
                  f" {int(t.get('requests', 0))} requests ({hub_requests} seen by the hub)")
            total = t["total"]
            rows = [
                ("parse (expat + balances)", t["read"]),
                ("plan (ids, order, batches)", t["plan"]),
                ("hub (inside the app)", hub),
                ("network + HTTP stack", t["network"] - hub),
                ("client send path (JSON, journal)", t["send"] - t["network"]),
            ]
            for label, seconds in rows:
                print(f"  {label:34s} {seconds:8.2f} s  {100 * seconds / total:5.1f} %")
            print(f"  {'total':34s} {total:8.2f} s  -> {published / total:,.0f} transactions/s end to end")
            client = BankFeedsClient(server_url, key)
            again = Publisher(options, client).run([str(statement)])
            client.close()
            print(f"  re-run of the same file: {again.timings['total']:.2f} s, published "
                  f"{sum(f.published for f in again.files)}, skipped {sum(f.skipped for f in again.files):,}, "
                  f"{int(again.timings.get('requests', 0))} requests")
        database.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as raw:
        tmp = Path(raw)
        first = (datetime.now(UTC) - timedelta(days=25)).date()
        started = time.perf_counter()
        written = write_camt053(tmp / "statement.xml", COUNT, iban=IBAN, start=first, days=20)
        size = written.path.stat().st_size
        print(f"camt.053 with {COUNT:,} entries, {size / 1e6:.1f} MB, written in {time.perf_counter() - started:.1f} s;"
              f" load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        for kind in DBS:
            run_one(kind.strip(), tmp, written.path, first)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve_forever(sys.argv[2], int(sys.argv[3]))
    else:
        main()
