"""Webhooks: deliveries per second to a local receiver, and the delay from commit to delivery when idle.

For each database kind (SQLite file, throwaway PostgreSQL database) a consumer points at a
receiver running in its own process (a minimal keep-alive HTTP/1.1 server on asyncio's protocol
API on 127.0.0.1, TCP_NODELAY, that answers 200 and logs each request's arrival time: tens of
microseconds a request, so it is not the bottleneck), and a worker runs in this process exactly as in
``bankfeeds serve`` (its lanes in threads, woken by commits; on PostgreSQL also by NOTIFY).

* **throughput**: ``BENCH_WEBHOOKS_N`` (default 4000) events are committed (100 per
  transaction) with the worker stopped; then the worker starts and we time until every message
  is recorded as delivered: fan-out, claim, sign, POST, record. Deliveries per second.
* **idle delay**: with the worker idle, ``BENCH_WEBHOOKS_IDLE`` (default 200) events are
  committed one at a time, each after the previous one arrived plus a short random pause; the
  delay is the receiver's arrival time minus the moment the commit returned. p50, p99, max.

Also printed: the CPU time of this process per delivery over the throughput phase (the worker's
lanes, plus the bench's own polling of the database every 20 ms), a figure less sensitive than
the rate to other load on the machine.

Target (issue 10): at least 1,000 deliveries/s; idle commit-to-delivery p99 at most 50 ms.

Environment: ``BENCH_WEBHOOKS_DBS`` (default ``sqlite,postgresql``; PostgreSQL skipped when
unreachable), ``BENCH_WEBHOOKS_CONCURRENCY`` and ``BENCH_WEBHOOKS_ENDPOINT_CONCURRENCY`` (default:
the worker's own defaults, ``BANKFEEDS_WEBHOOKS_*``), ``BANKFEEDS_BENCH_PG_URL`` admin URL.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

from bankfeeds.config import Settings
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import EventType, WebhookMessage
from bankfeeds.webhooks import events
from bankfeeds.webhooks import service as webhooks
from bankfeeds.webhooks.config import DeliveryOptions
from bankfeeds.webhooks.tasks import deliver_messages, dispatch_events
from bankfeeds.worker.runner import Worker
from bench.common import PG_ADMIN_URL, fresh_database

RECEIVER = textwrap.dedent('''
    # A minimal HTTP/1.1 server on asyncio's protocol API: keep-alive, pipelining-safe,
    # content-length bodies, no parsing beyond what it needs; a few tens of microseconds a request,
    # so the receiver is not what is measured.
    import asyncio, socket, sys, time

    log = open(sys.argv[1], "a", buffering=1)
    ANSWER = b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\ncontent-type: text/plain\\r\\n\\r\\nok"

    class Receiver(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            self.buffer = b""
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def data_received(self, data):
            self.buffer += data
            while True:
                end = self.buffer.find(b"\\r\\n\\r\\n")
                if end < 0:
                    return
                length, webhook_id = 0, b"-"
                for line in self.buffer[:end].split(b"\\r\\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"webhook-id":
                        webhook_id = value.strip()
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length:]
                arrived = time.time()
                self.transport.write(ANSWER)
                log.write(f"{webhook_id.decode()} {arrived}\\n")

    async def main():
        server = await asyncio.get_running_loop().create_server(Receiver, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())
''')




@contextmanager
def receiver(log: Path) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(log)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/webhooks"
    finally:
        proc.terminate()
        proc.wait(10)


def arrivals(log: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            msg_id, at = line.split()
            out.setdefault(msg_id, float(at))
    return out


def payload(i: int) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "name": f"Bench company {i}", "description": None, "tags": {}}


def delivered(database: Database) -> int:
    with database.unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(WebhookMessage).where(WebhookMessage.status == "Success")) or 0


TARGET_RATE = 1000.0
TARGET_P99_MS = 50.0


def bench_kind(kind: str, n: int, idle: int, overrides: dict[str, int]) -> None:
    with fresh_database(kind, label="webhooks") as url, tempfile.TemporaryDirectory(prefix="bench-webhooks-rx-") as tmp:
        if url is None:
            print(f"[{kind}] PostgreSQL not reachable at {PG_ADMIN_URL}: skipped")
            return
        log = Path(tmp) / "arrivals.log"
        settings = Settings(environment="test", database_url=url, secret_key="bench-secret", run_worker=False,
                            worker_poll_seconds=1.0, idx_partner_key="bench-partner-key",
                            webhooks_allow_private_targets=True)
        options = DeliveryOptions.from_settings(settings, **overrides)
        database = Database(url)
        clock = SystemClock()
        concurrency = f"concurrency {options.concurrency}, {options.endpoint_concurrency} per endpoint"
        with receiver(log) as url_rx:
            with database.unit_of_work() as s:
                webhooks.add(s, clock, settings, url_rx, ["company.created"])

            # Throughput: a backlog of n events, then the worker.
            for start in range(0, n, 100):
                with database.unit_of_work() as s:
                    for i in range(start, min(n, start + 100)):
                        events.record(s, clock, EventType.COMPANY_CREATED, payload(i))
            worker = Worker(database, settings, clock, tasks=[dispatch_events, deliver_messages(options)])
            started, cpu_started = time.perf_counter(), time.process_time()
            worker.start()
            while delivered(database) < n:
                time.sleep(0.02)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            rate = n / elapsed
            print(f"[{kind}] throughput: {n} messages fanned out and delivered in {elapsed:.2f} s = "
                  f"{rate:.0f} deliveries/s (one worker process, {concurrency}); "
                  f"{cpu * 1e6 / n:.0f} us CPU per delivery; target >= {TARGET_RATE:,.0f}/s: "
                  + ("met" if rate >= TARGET_RATE else "NOT met"))

            # Idle delay: one event at a time into an idle worker.
            time.sleep(1.5)
            seen = len(arrivals(log))
            committed: dict[int, float] = {}
            with log.open() as tail:
                tail.read()
                for i in range(idle):
                    time.sleep(random.uniform(0.02, 0.08))
                    with database.unit_of_work() as s:
                        events.record(s, clock, EventType.COMPANY_CREATED, payload(n + i))
                    committed[i] = time.time()
                    deadline = time.monotonic() + 10
                    got_line = ""
                    while not got_line.endswith("\n") and time.monotonic() < deadline:
                        time.sleep(0.002)  # gently: this process also runs the worker
                        got_line += tail.readline()
            assert len(arrivals(log)) <= seen + idle
            worker.stop()
            got = arrivals(log)
            with database.unit_of_work() as s:
                order = list(s.scalars(select(WebhookMessage.id).order_by(WebhookMessage.created_at)))[n:]
            delays = sorted((got[m] - committed[i]) * 1000 for i, m in enumerate(order) if m in got)
            missing = idle - len(delays)
            q = statistics.quantiles(delays, n=100, method="inclusive")
            print(f"[{kind}] idle commit-to-delivery delay over {len(delays)} events: p50 {q[49]:.1f} ms, "
                  f"p99 {q[98]:.1f} ms, max {delays[-1]:.1f} ms" + (f" ({missing} missing!)" if missing else "")
                  + f"; target p99 <= {TARGET_P99_MS:.0f} ms: " + ("met" if q[98] <= TARGET_P99_MS else "NOT met"))
        database.dispose()


def main() -> None:
    kinds = [k.strip() for k in os.environ.get("BENCH_WEBHOOKS_DBS", "sqlite,postgresql").split(",") if k.strip()]
    n = int(os.environ.get("BENCH_WEBHOOKS_N", "4000"))
    idle = int(os.environ.get("BENCH_WEBHOOKS_IDLE", "200"))
    overrides = {k: int(os.environ[f"BENCH_WEBHOOKS_{k.upper()}"])
                 for k in ("concurrency", "endpoint_concurrency") if os.environ.get(f"BENCH_WEBHOOKS_{k.upper()}")}
    print("receiver: a minimal asyncio HTTP/1.1 server in its own process (keep-alive, TCP_NODELAY)")
    for kind in kinds:
        bench_kind(kind, n, idle, overrides)


if __name__ == "__main__":
    main()
