"""Small pushes: many clients each pushing one transaction at a time, vs. the framework floor.

For each database kind (SQLite file, throwaway PostgreSQL database):

* **app**: ``bankfeeds serve`` (one process, its settings as shipped: the worker runs inside it
  unless ``BENCH_PUSH_WORKER=false``) on a freshly migrated database; one company, one Linked
  QuickBooks connection, one connected source account per client, a real API key.
* **floor**: ``bench/push_floor.py``, a minimal FastAPI endpoint under the same uvicorn options,
  parsing the same JSON and inserting the one row with stdlib ``sqlite3`` (PostgreSQL: ``psycopg``)
  and committing, on its own freshly migrated database.

The same client code drives both: ``BENCH_PUSH_CLIENTS`` threads (default 8), each on one
keep-alive HTTP/1.1 connection (stdlib ``http.client``, the cheapest client, so the client steals
as little as possible of the 2 cores), each pushing create-bank-transactions bodies of one
transaction (chronological dates) to its own account, one request at a time. Every app answer
must be a 200 ``Success``. Phases alternate app, floor, app, floor ... (``ROUNDS`` of each,
``BENCH_PUSH_SECONDS`` each, default 5, after a 1 s warm-up per server) so both see the same
machine load: this 2-core machine's speed drifts by a fifth from minute to minute, and short
alternating phases spread the drift over both. Prints pushes/s,
p50/p99/p99.9 latency, the server's CPU per push (from /proc, the server process only) and the ratio.

``BENCH_PUSH_GC=1``: time every garbage collection of the app server (``bench/gcwatch``) and print,
by generation, how many ran during its phases, their total and their longest pause.

``BENCH_PUSH_PYSPY=<file>``: record the app server with py-spy during its phases (``--format raw``,
``--gil``: only the thread running Python, i.e. CPU; collapsed stacks, summarised by ``python -m bench.profile_summary <file>``).
Also ``BENCH_PUSH_DBS`` (default ``sqlite,postgresql``), ``BANKFEEDS_BENCH_PG_URL``.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tests.fixtures.serving import free_port, serving_process

from bankfeeds.api_keys import service as api_keys
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import PushOperation
from bench.bench_write import Feed, make_feed
from bench.common import each_database_kind, fresh_database

TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
WARMUP_SECONDS = 1.0
ROUNDS = 4
CLK_TCK = os.sysconf("SC_CLK_TCK")
GC_WATCH = Path(__file__).parent / "gcwatch"


@dataclass
class Phase:
    pushes: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def add(self, other: Phase) -> None:
        self.pushes += other.pushes
        self.seconds += other.seconds
        self.cpu_seconds += other.cpu_seconds
        self.latencies.extend(other.latencies)

    @property
    def rate(self) -> float:
        return self.pushes / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_push(self) -> float:
        return self.cpu_seconds * 1000 / self.pushes if self.pushes else 0.0

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000 if ordered else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# ---------------------------------------------------------------- servers


@contextmanager
def running(cmd: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    # The server's log lines go to a file, as a deployment's would (not to this terminal).
    log = open(Path(tempfile.gettempdir()) / f"bench-push-{port}.log", "wb")  # noqa: SIM115
    try:
        # Any answer means it listens (the floor has no /healthz: a 404 will do).
        with serving_process(cmd, port, env={**os.environ, **env}, log=log) as proc:
            yield proc
    finally:
        log.close()
        Path(log.name).unlink(missing_ok=True)


@dataclass
class Target:
    label: str
    port: int
    prefix: str
    headers: dict[str, str]
    proc: subprocess.Popen[bytes]
    accounts: list[str]
    check_success: bool


def app_target(stack: ExitStack, url: str, accounts: list[str], gc_watch: Path | None = None) -> Target:
    db = Database(url)
    feed: Feed = make_feed(db, accounts)
    with db.unit_of_work() as s:
        _, raw_key = api_keys.create(s, SystemClock(), "bench")
    db.dispose()
    port = free_port()
    env = {"BANKFEEDS_DATABASE_URL": url, "BANKFEEDS_ENVIRONMENT": "development",
           "BANKFEEDS_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "BANKFEEDS_RUN_WORKER": os.environ.get("BENCH_PUSH_WORKER", "true")}
    if gc_watch is not None:  # bench/gcwatch times the server's garbage collections
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GC_WATCH), os.environ.get("PYTHONPATH")]))
        env["BENCH_GC_WATCH"] = str(gc_watch)
    proc = stack.enter_context(running(
        [sys.executable, "-m", "bankfeeds", "serve", "--host", "127.0.0.1", "--port", str(port)], env, port))
    headers = {"Authorization": "Basic " + base64.b64encode(raw_key.encode()).decode(),
               "Content-Type": "application/json"}
    prefix = f"/companies/{feed.company_id}/connections/{feed.connection_id}/push/bankAccounts"
    return Target("bankfeeds serve", port, prefix, headers, proc, accounts, True)


def floor_target(stack: ExitStack, url: str, accounts: list[str]) -> Target:
    db = Database(url)
    feed = make_feed(db, accounts)
    key = uuid.uuid4()
    with db.unit_of_work() as s:
        s.add(PushOperation(key=key, company_id=feed.company_id, connection_id=feed.connection_id,
                            source_account_id=accounts[0], data_type="bankTransactions", status="Success",
                            status_code=200, requested_at=datetime.now(UTC), validation={}, transaction_count=0))
    db.dispose()
    port = free_port()
    env = {"FLOOR_DATABASE_URL": url, "FLOOR_PORT": str(port), "FLOOR_OPERATION": str(key),
           "FLOOR_ACCOUNTS": json.dumps({k: str(v) for k, v in feed.accounts.items()})}
    proc = stack.enter_context(running([sys.executable, "-m", "bench.push_floor"], env, port))
    prefix = f"/companies/{feed.company_id}/connections/{feed.connection_id}/push/bankAccounts"
    return Target("framework floor", port, prefix, {"Content-Type": "application/json"}, proc, accounts, False)


# ---------------------------------------------------------------- clients


class Counter:
    """Per-account sequence: ids and dates keep growing across phases (chronological pushes), and
    each balance follows the one before by the amount, as a bank's running balance does (a push
    that broke the balance chain would be answered with a warning, which is not the common case)."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=2)
        self.next: dict[str, int] = {}
        self.balance: dict[str, Decimal] = {}

    def body(self, account: str) -> bytes:
        n = self.next.get(account, 0)
        self.next[account] = n + 1
        amount = Decimal(f"{(n % 900) + 1}.{n % 100:02d}")
        balance = self.balance[account] = self.balance.get(account, Decimal("1000.00")) + amount
        txn = {
            "id": f"{account}-{n:09d}",
            "date": (self.start + timedelta(milliseconds=n * 10)).isoformat(),
            "description": f"Card payment {n} at Merchant {n % 97} Ltd",
            "amount": f"__{amount}__",
            "balance": f"__{balance}__",
            "transactionType": "Credit",
        }
        text = json.dumps({"accountId": account, "transactions": [txn]})
        # Numbers as JSON numbers (not strings), written exactly.
        return text.replace('"__', "").replace('__"', "").encode()


def drive(target: Target, counter: Counter, seconds: float, *, record: bool) -> Phase:
    stop = time.perf_counter() + seconds
    per_client: list[list[float]] = [[] for _ in target.accounts]
    errors: list[str] = []

    def client(i: int) -> None:
        account = target.accounts[i]
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)
        path = f"{target.prefix}/{account}/bankTransactions"
        try:
            while time.perf_counter() < stop and not errors:
                body = counter.body(account)
                t0 = time.perf_counter()
                conn.request("POST", path, body=body, headers=target.headers)
                response = conn.getresponse()
                payload = response.read()
                per_client[i].append(time.perf_counter() - t0)
                if response.status != 200 or (target.check_success and json.loads(payload)["status"] != "Success"):
                    errors.append(f"{target.label}: {response.status} {payload[:300]!r}")
        except Exception as exc:  # reported below, the phase fails
            errors.append(f"{target.label}: {type(exc).__name__}: {exc}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(target.accounts))]
    cpu0, t0 = cpu_seconds(target.proc.pid), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds(target.proc.pid) - cpu0
    if errors:
        raise RuntimeError(errors[0])
    latencies = [x for lat in per_client for x in lat]
    if not record:
        return Phase()
    return Phase(len(latencies), elapsed, cpu, latencies)


@contextmanager
def pyspy(pid: int, out: str | None, label: str) -> Iterator[None]:
    if not out:
        yield
        return
    path = f"{out}.{label}.txt"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--format", "raw", "--output", path,
                             "--rate", "200", "--nonblocking", "--gil"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.send_signal(2)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def bench_kind(kind: str, clients: int, seconds: float, tmp: Path) -> tuple[Phase, Phase]:
    accounts = [f"acct-{i}" for i in range(clients)]
    profile = os.environ.get("BENCH_PUSH_PYSPY")
    gc_watch = tmp / "push-serve-gc.txt" if os.environ.get("BENCH_PUSH_GC") else None
    with ExitStack() as stack:
        app = app_target(stack, stack.enter_context(fresh_database(kind, tmp, label="push", required=True)),
                         accounts, gc_watch)
        floor = floor_target(stack, stack.enter_context(fresh_database(kind, tmp, label="push", required=True)),
                             accounts)
        counters = {app.label: Counter(), floor.label: Counter()}
        for target in (app, floor):
            drive(target, counters[target.label], WARMUP_SECONDS, record=False)
        results = {app.label: Phase(), floor.label: Phase()}
        app_phases: list[tuple[float, float]] = []
        for n in range(ROUNDS):
            for target in (app, floor):
                with pyspy(target.proc.pid, profile if target is app else None, f"{kind}.{n}"):
                    began = time.time()
                    results[target.label].add(drive(target, counters[target.label], seconds, record=True))
                    if target is app:
                        app_phases.append((began, time.time()))
        if gc_watch is not None:
            time.sleep(1.5)  # the server writes its collections down once a second
            print(f"{kind:<11} {gc_summary(gc_watch, app_phases)}", flush=True)
        return results[app.label], results[floor.label]


def gc_summary(path: Path, phases: list[tuple[float, float]]) -> str:
    """The server's garbage collections during its measured phases, by generation (BENCH_PUSH_GC)."""
    by_generation: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for line in path.read_text().splitlines():
        at, generation, seconds = line.split()
        if any(began <= float(at) <= ended for began, ended in phases):
            by_generation[int(generation)].append(float(seconds) * 1000)
    parts = [f"gen {g}: {len(ms)} taking {sum(ms):.0f} ms (longest {max(ms, default=0):.1f} ms)"
             for g, ms in by_generation.items()]
    return "serve's garbage collections in its phases: " + "; ".join(parts)


def main() -> None:
    clients = int(os.environ.get("BENCH_PUSH_CLIENTS", "8"))
    seconds = float(os.environ.get("BENCH_PUSH_SECONDS", "5"))
    print(f"push benchmark: {clients} clients, one transaction per push, {ROUNDS} x {seconds:g} s per server "
          f"(alternating), worker in serve: {os.environ.get('BENCH_PUSH_WORKER', 'true')}", flush=True)
    table = []
    for kind, tmp in each_database_kind("BENCH_PUSH_DBS"):
        app, floor = bench_kind(kind, clients, seconds, tmp)
        ratio = app.rate / floor.rate
        table.append((kind, app, floor, ratio))
        for label, r in (("bankfeeds serve", app), ("framework floor", floor)):
            print(f"{kind:<11} {label:<16} {r.rate:>8,.0f} pushes/s  p50 {r.pct(50):6.1f} ms  "
                  f"p99 {r.pct(99):7.1f} ms  p99.9 {r.pct(99.9):7.1f} ms  server CPU {r.cpu_ms_per_push:5.2f} ms/push", flush=True)
        ok = ratio >= TARGET_RATIO and app.pct(99) <= TARGET_P99_MS
        verdict = "OK" if ok else f"BELOW TARGET (ratio {TARGET_RATIO}, p99 {TARGET_P99_MS:g} ms)"
        print(f"{kind:<11} serve / floor: {ratio:.2f} {verdict}", flush=True)
    if table:
        print("\n| database | serve pushes/s | floor pushes/s | ratio | serve p50 / p99 ms | floor p50 / p99 ms "
              "| serve CPU ms/push | floor CPU ms/push |")
        print("|---|---|---|---|---|---|---|---|")
        for kind, app, floor, ratio in table:
            print(f"| {kind} | {app.rate:,.0f} | {floor.rate:,.0f} | {ratio:.2f} | {app.pct(50):.1f} / "
                  f"{app.pct(99):.1f} | {floor.pct(50):.1f} / {floor.pct(99):.1f} | {app.cpu_ms_per_push:.2f} "
                  f"| {floor.cpu_ms_per_push:.2f} |")


if __name__ == "__main__":
    main()
