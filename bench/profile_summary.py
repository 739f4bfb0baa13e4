"""Summarise py-spy ``--format raw`` files (collapsed stacks): where the CPU of a server goes.

``python -m bench.profile_summary FILE [FILE ...] [--pushes N --cpu-seconds S]``

Prints, for each function seen (file:function, lines merged), the share of samples in which it
is on the stack (inclusive) and at the top (self), the request path split into its main parts,
and, given the pushes and CPU seconds of the profiled phase, the milliseconds per push.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^:]*)(?::\d+)?\)$")

# Parts of the hot path: each sample goes to the innermost frame of its stack that names one
# (so a middleware gets only its own work, not the app it wraps).
BUCKETS = (
    ("worker thread (webhook fan-out, jobs)", "bankfeeds/worker/runner.py:_run_lane"),
    ("authentication (api_keys)", "bankfeeds/api_keys/"),
    ("idempotency middleware (own work)", "bankfeeds/idempotency/"),
    ("body parse + validation", "bankfeeds/kit/http.py:parse_model"),
    ("push: resolve company/connection/account", "bankfeeds/bank_transactions/service.py:resolve"),
    ("push: lock account", "bankfeeds/bank_transactions/repository.py:lock_account"),
    ("push: insert transactions", "bankfeeds/bank_transactions/repository.py:insert_new"),
    ("push: feed health chain", "bankfeeds/feed_health/"),
    ("push: push operation + event", "bankfeeds/push_operations/"),
    ("push service (other)", "bankfeeds/bank_transactions/"),
    ("unit of work (begin/flush/commit/close)", "bankfeeds/kit/db.py:"),
    ("response rendering", "bankfeeds/kit/http.py:"),
    ("observability middleware (own work: log line, metrics)", "bankfeeds/observability/"),
)


def frame_key(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    return f"{m.group('file')}:{m.group('name').rsplit('.', 1)[-1]}"


def _bucket(frames: list[str]) -> str:
    for frame in reversed(frames):
        for label, needle in BUCKETS:
            if needle in frame:
                return label
    for frame in reversed(frames):
        if "bankfeeds/" in frame:
            return f"other bankfeeds code (innermost: {frame})"
    return "outside bankfeeds code (server loop, framework, threads)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--ms-per-sample", type=float, default=0.0,
                        help="CPU ms per push / 100 %% of samples (to print ms per push)")
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
            buckets[_bucket(frames)] += count
    scale = args.ms_per_sample
    print(f"{total} samples")
    print("\nparts of the hot path (inclusive, first match):")
    for label, count in buckets.most_common():
        ms = f"  {count / total * scale:5.2f} ms/push" if scale else ""
        print(f"  {count / total:6.1%}{ms}  {label}")
    print(f"\ntop {args.top} functions by inclusive share (self share):")
    for key, count in inclusive.most_common(args.top):
        print(f"  {count / total:6.1%} ({self_[key] / total:5.1%})  {key}")


if __name__ == "__main__":
    main()
