"""CPU per transaction of a 1000-transaction create-bank-transactions request, in process.

``python -m bench.profile_write [--db sqlite|postgresql] [--batches N] [--batch 1000] [--profile] [--top N]``

Builds a migrated database with one Linked QuickBooks feed (``bench_write.make_feed``), takes the
JSON bodies ``bench write`` POSTs, and does a request's own work without HTTP, each part timed in
CPU time of this thread (``time.thread_time``), so the figures hold on a busy machine:

* **parse**: ``kit.http.parse_model`` of the raw body, as the endpoint does (the fast lane,
  ``schemas.parse_fast``, falling back to the reference path); with ``--reference`` the reference
  path alone, split into ``jsonutil.loads`` and **validate** (``CreateBankTransactions.model_validate``),
* **write**: ``service.write`` in a unit of work (rules, insert, feed health chain, operation and
  its event), and the **commit**,
* **response**: ``wire(push_operations.to_wire(op))`` rendered by ``kit.http.JSONResponse``.

``write`` is also split by the functions it calls (cProfile-free: each wrapped with a timer).
``--profile`` prints a cProfile top list of the whole request's work instead of timing it.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bankfeeds.bank_transactions import repository as bt_repository
from bankfeeds.bank_transactions import schemas as bt_schemas
from bankfeeds.bank_transactions import service
from bankfeeds.config import Settings
from bankfeeds.feed_health import service as feed_health
from bankfeeds.kit import http, jsonutil
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.platforms import write_rules
from bankfeeds.push_operations import service as push_operations
from bench.bench_write import make_bodies, make_feed
from bench.common import fresh_database

WARMUP = 3

# (label, module, attribute): the parts of service.write timed apart.
_PARTS: tuple[tuple[str, Any, str], ...] = (
    ("rules (check_batch)", write_rules, "check_batch"),
    ("insert (insert_new)", bt_repository.BankTransactionRepository, "insert_new"),
    ("chain start (the account's tip)", feed_health, "chain_start"),
    ("chain warnings", feed_health, "push_chain_warnings"),
    ("findings (set_findings)", push_operations, "set_findings"),
    ("accepted (succeed + event)", push_operations, "succeed"),
    ("operation row (save)", push_operations, "save"),
    ("resolve (target query)", service, "resolve"),
)


@contextmanager
def timed_parts(totals: dict[str, list[float]]) -> Iterator[None]:
    """Wrap each of ``_PARTS`` with a CPU timer recording each call in ``totals`` (restored afterwards)."""
    saved = []
    for label, owner, name in _PARTS:
        original = owner.__dict__[name]
        func = original.__func__ if isinstance(original, staticmethod | classmethod) else original

        def wrapper(*args: Any, __f: Callable[..., Any] = func, __l: str = label, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return __f(*args, **kwargs)
            finally:
                totals[__l].append(time.thread_time() - t0)

        functools.update_wrapper(wrapper, func)
        setattr(owner, name, wrapper)
        saved.append((owner, name, original))
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def request(db: Database, settings: Settings, feed: Any, account: str, body: bytes,
            clock: SystemClock, times: dict[str, list[float]], reference: bool = False) -> None:
    t0 = time.thread_time()
    if reference:
        data = jsonutil.loads(body)
        t1 = time.thread_time()
        parsed = bt_schemas.CreateBankTransactions.model_validate(data)
    else:
        parsed = http.parse_model(body, bt_schemas.CreateBankTransactions)
        t1 = time.thread_time()
    t2 = time.thread_time()
    session = db.sessions()
    try:
        op = service.write(session, clock, settings, company_id=feed.company_id, connection_id=feed.connection_id,
                           account_id=account, body=parsed, timeout_in_minutes=None)
        t3 = time.thread_time()
        session.commit()
    finally:
        session.close()
    t4 = time.thread_time()
    rendered = http.JSONResponse(http.wire(push_operations.to_wire(op))).body
    t5 = time.thread_time()
    if op.status != "Success":
        raise RuntimeError(f"push {op.status}: {op.error_message}")
    assert rendered
    times["parse (jsonutil.loads / parse_model)"].append(t1 - t0)
    times["validate (pydantic, with --reference)"].append(t2 - t1)
    times["write (service.write)"].append(t3 - t2)
    times["commit"].append(t4 - t3)
    times["response (to_wire + render)"].append(t5 - t4)
    times["total"].append(t5 - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile top list instead of timings")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--reference", action="store_true",
                        help="parse the reference way (jsonutil.loads + model_validate), not kit.http.parse_model")
    args = parser.parse_args()

    with ExitStack() as stack:
        import tempfile

        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="profile-write-")))
        url = stack.enter_context(fresh_database(args.db, tmp, label="profile", required=True))
        assert url is not None
        db = Database(url)
        stack.callback(db.dispose)
        feed = make_feed(db, ["api", "api-warmup"])
        settings = Settings(database_url=url, environment="development", run_worker=False)
        clock = SystemClock()
        bodies = make_bodies("api", args.batches * args.batch, args.batch)
        warm = make_bodies("api-warmup", WARMUP * args.batch, args.batch, seed=1)
        scratch: dict[str, list[float]] = defaultdict(list)
        for body in warm:
            request(db, settings, feed, "api-warmup", body, clock, scratch)

        times: dict[str, list[float]] = defaultdict(list)
        parts: dict[str, list[float]] = defaultdict(list)
        n = args.batches * args.batch
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for body in bodies:
                request(db, settings, feed, "api", body, clock, times, args.reference)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats(args.sort).print_stats(args.top)
            return
        with timed_parts(parts):
            for body in bodies:
                request(db, settings, feed, "api", body, clock, times, args.reference)
        print(f"{args.db}: {args.batches} batches of {args.batch}; CPU (thread time) per transaction, "
              "mean and median of the batches (the median holds better on a busy machine)")
        for label, seconds in times.items():
            print(f"  {sum(seconds) / n * 1e6:7.2f} µs  {statistics.median(seconds) / args.batch * 1e6:7.2f} µs  "
                  f"{label}")
        print("  of write:")
        for label, _, _ in _PARTS:
            print(f"    {sum(parts[label]) / n * 1e6:7.2f} µs  {statistics.median(parts[label] or [0.0]) / args.batch * 1e6:7.2f} µs  "
                  f"{label}")


if __name__ == "__main__":
    main()
