"""Small pushes, two (or more) checkouts of the code side by side: which is faster, on a noisy machine.

``python -m bench.ab_push [--kind sqlite|postgresql] [--rounds 8] [--seconds 4] NAME=CHECKOUT ...``

e.g. ``git worktree add /tmp/before <commit>`` then
``python -m bench.ab_push before=/tmp/before after=.``

``bench push`` compares ``bankfeeds serve`` with the framework floor within one run; two runs of it
(before and after a change) are minutes apart, and on a shared 2-core machine the speed of the CPU
itself drifts by a fifth from minute to minute, more than most changes move the figures. Here each
checkout runs its own ``bankfeeds serve`` (its own code on ``PYTHONPATH``, this virtualenv's
packages) on its own database, migrated and given one Linked QuickBooks feed by that checkout's own
code, and the same clients (``bench_push.drive``) push to each in turn: phases of ``--seconds``,
the order reversed every round, so every checkout sees the same machine. Prints pushes/s, p50/p99
latency and the server's CPU per push for each.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from tests.fixtures.serving import free_port

from bench.bench_push import Counter, Phase, Target, drive, running
from bench.common import fresh_database

# Run by each checkout's own code: migrate, one Linked QuickBooks feed, an API key (JSON on stdout).
_SETUP = """
import json, sys
from bench.bench_write import make_feed
from bankfeeds.api_keys import service as api_keys
from bankfeeds.kit import migrate
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
url, accounts = sys.argv[1], sys.argv[2].split(",")
migrate.upgrade(url, demo=True)
db = Database(url)
feed = make_feed(db, accounts)
with db.unit_of_work() as s:
    _, key = api_keys.create(s, SystemClock(), "bench")
db.dispose()
print(json.dumps({"company": str(feed.company_id), "connection": str(feed.connection_id), "key": key}))
"""


def _target(kind: str, name: str, checkout: Path, accounts: list[str], tmp: Path, stack: ExitStack) -> Target:
    url = stack.enter_context(fresh_database(kind, tmp, label=f"ab-{name}", required=True, migrated=False))
    assert url is not None
    path = f"{checkout / 'src'}{os.pathsep}{checkout}"
    made = subprocess.run([sys.executable, "-c", _SETUP, url, ",".join(accounts)], cwd=checkout, text=True,
                          capture_output=True, env={**os.environ, "PYTHONPATH": path}, check=False)
    if made.returncode != 0:
        raise SystemExit(f"{name}: setting up its database failed:\n{made.stderr[-3000:]}")
    feed = json.loads(made.stdout.strip().splitlines()[-1])
    port = free_port()
    env = {"PYTHONPATH": path, "BANKFEEDS_DATABASE_URL": url, "BANKFEEDS_ENVIRONMENT": "development",
           "BANKFEEDS_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "BANKFEEDS_RUN_WORKER": os.environ.get("BENCH_PUSH_WORKER", "true")}
    proc = stack.enter_context(running(
        [sys.executable, "-m", "bankfeeds", "serve", "--host", "127.0.0.1", "--port", str(port)], env, port))
    headers = {"Authorization": "Basic " + base64.b64encode(feed["key"].encode()).decode(),
               "Content-Type": "application/json"}
    prefix = f"/companies/{feed['company']}/connections/{feed['connection']}/push/bankAccounts"
    return Target(name, port, prefix, headers, proc, accounts, True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("checkouts", nargs="+", metavar="NAME=CHECKOUT")
    args = parser.parse_args()
    named = [c.split("=", 1) for c in args.checkouts]
    if any(len(pair) != 2 for pair in named):
        parser.error("give each checkout as NAME=PATH")
    accounts = [f"acct-{i}" for i in range(args.clients)]
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bankfeeds-ab-")))
        targets = [_target(args.kind, name, Path(path).resolve(), accounts, tmp, stack) for name, path in named]
        counters = {t.label: Counter() for t in targets}
        for t in targets:
            drive(t, counters[t.label], 1.0, record=False)  # warm-up
        results = {t.label: Phase() for t in targets}
        for n in range(args.rounds):
            for t in targets if n % 2 == 0 else list(reversed(targets)):
                results[t.label].add(drive(t, counters[t.label], args.seconds, record=True))
                print(".", end="", flush=True)
        print()
        for label, r in results.items():
            print(f"{args.kind:<11} {label:<12} {r.rate:>7,.0f} pushes/s  p50 {r.pct(50):6.1f} ms  "
                  f"p99 {r.pct(99):7.1f} ms  p99.9 {r.pct(99.9):7.1f} ms  server CPU {r.cpu_ms_per_push:5.2f} ms/push", flush=True)


if __name__ == "__main__":
    main()
