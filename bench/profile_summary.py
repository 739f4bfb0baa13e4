"""Summarise py-spy ``--format raw`` files (collapsed stacks): where the CPU of a server goes.

``python -m bench.profile_summary FILE [FILE ...] [--ms-per-sample MS] [--top N]``

Prints the samples split into the parts of a push (``PARTS``) and, given the phase's server CPU
per push (``--ms-per-sample``, printed by ``bench push``), that CPU split the same way; then each
function seen (file:function, lines merged) by the share of samples in which it is on the stack
(inclusive) and at the top (self). With ``--gil`` a sample is the thread holding the GIL: on a
loaded machine that includes moments the holder waits for a core, so the split is approximate.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^:]*)(?::\d+)?\)$")

# Parts of a push, by what is on the stack (first rule that matches): the worker inside serve, the
# service call, the authentication, the commit, the body parse, the response, the rest of the
# endpoint (FastAPI's or the hot lane's), the threadpool handoffs, the rest of the ASGI/FastAPI
# stack (middlewares, routing, dependency solving, the log line), what is left of the endpoint in
# stacks py-spy cut short, and the server loop (uvicorn, h11, asyncio).
PARTS = (
    ("worker thread (in serve)", ("worker/runner.py",)),
    ("endpoint: service.write", ("write (bankfeeds/bank_transactions/service.py",)),
    ("authentication", ("authenticate (bankfeeds/api_keys/service.py", "api_key_in_request", "current_api_key")),
    ("commit (ORM flush + COMMIT)", ("_commit_and_close", "unit_of_work", "Session.commit")),
    ("body parse + validation", ("json_body", "parse_model")),
    ("response build", ("to_wire", "wire (bankfeeds/kit/http.py", "Response.__init__")),
    ("endpoint: other", ("_run_sync_endpoint", "create_bank_transactions")),
    ("threadpool handoffs", ("run_sync_in_worker_thread", "to_thread", "queue.py", "_worker")),
    # The app on the event loop; py-spy often cuts a coroutine's stack short, so any of its frames counts.
    ("ASGI middleware + FastAPI routing/deps + log line", (
        "run_asgi", "fastapi/", "starlette/", "bankfeeds/app.py", "bankfeeds/observability/", "bankfeeds/idempotency/",
        "bankfeeds/kit/hot_routes", "bankfeeds/kit/http.py", "bankfeeds/kit/inputs.py", "bankfeeds/kit/logging.py",
        "bankfeeds/kit/serving.py", "prometheus_client/", "logging/")),
    # Cut-short stacks of the request's own work (the database, the wire models, JSON).
    ("endpoint: other", ("sqlalchemy/", "pydantic", "simplejson/", "msgspec", "uuid.py", "bankfeeds/bank_transactions/",
                         "bankfeeds/push_operations/", "bankfeeds/webhooks/", "bankfeeds/feed_health/",
                         "bankfeeds/platforms/", "bankfeeds/api_keys/", "bankfeeds/kit/driver_sql", "bankfeeds/kit/db.py",
                         "bankfeeds/kit/jsonutil")),
)


def part_of(stack: str) -> str:
    for label, needles in PARTS:
        if any(needle in stack for needle in needles):
            return label
    return "server loop (uvicorn, h11, asyncio) + other"


def frame_key(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    return f"{m.group('file')}:{m.group('name').rsplit('.', 1)[-1]}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--ms-per-sample", type=float, default=0.0,
                        help="the phase's server CPU ms per push (bench push prints it), to split it by part")
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    total = 0
    for name in args.files:
        for line in Path(name).read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack:
                continue
            count = int(count_text)
            total += count
            frames = [frame_key(f) for f in stack.split(";")]
            for key in set(frames):
                inclusive[key] += count
            self_[frames[-1]] += count
            buckets[part_of(stack)] += count
    scale = args.ms_per_sample
    print(f"{total} samples")
    print("\nparts of a push (share of samples; ms of CPU per push with --ms-per-sample):")
    for label, count in buckets.most_common():
        ms = f"  {count / total * scale:5.2f} ms/push" if scale else ""
        print(f"  {count / total:6.1%}{ms}  {label}")
    print(f"\ntop {args.top} functions by inclusive share (self share):")
    for key, count in inclusive.most_common(args.top):
        print(f"  {count / total:6.1%} ({self_[key] / total:5.1%})  {key}")


if __name__ == "__main__":
    main()
