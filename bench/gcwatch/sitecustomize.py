"""Times every garbage collection of a process: ``PYTHONPATH=bench/gcwatch BENCH_GC_WATCH=<file>``.

Python imports ``sitecustomize`` at start from its path; with ``BENCH_GC_WATCH`` set, each
collection is timed (``gc.callbacks``) and, once a second and at exit, appended to that file as
``<wall clock> <generation> <seconds>`` lines (written by a thread, never inside a collection).
``bench push`` sets both for ``bankfeeds serve`` when ``BENCH_PUSH_GC`` is set and sums the
collections of its measured phases. Without ``BENCH_GC_WATCH`` it does nothing.
"""

from __future__ import annotations

import atexit
import gc
import os
import threading
import time
from typing import Any

_PATH = os.environ.get("BENCH_GC_WATCH")

if _PATH:
    _done: list[tuple[float, int, float]] = []
    _started = [0.0]
    _lock = threading.Lock()

    def _timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _started[0] = time.perf_counter()
        else:
            _done.append((time.time(), info["generation"], time.perf_counter() - _started[0]))

    def _flush() -> None:
        with _lock:
            taken = _done[:]
            del _done[:len(taken)]
            if taken:
                with open(_PATH, "a") as out:
                    out.writelines(f"{at:.6f} {generation} {seconds:.6f}\n" for at, generation, seconds in taken)

    def _every_second() -> None:
        while True:
            time.sleep(1.0)
            _flush()

    gc.callbacks.append(_timed)
    atexit.register(_flush)
    threading.Thread(target=_every_second, name="gcwatch", daemon=True).start()
