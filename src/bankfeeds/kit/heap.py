"""The garbage collector of a long-running process (``serve``, ``worker``), set once it has started.

CPython's cyclic collector stops the whole process while it runs. Its oldest generation holds what
the process imported and built at start (modules, classes, the app's routes and schemas,
SQLAlchemy's mappers: ~150,000 objects here), and each full collection walks all of it: **130-180 ms**
measured in ``bankfeeds serve`` under ``bench push`` (``gc.callbacks`` timing each collection), every
10-20 s while pushes arrive. Every request in flight waits that long: the push's slowest answers
(p99.9 under ``bench.ab_push``, PostgreSQL: 212 ms before, 53 ms after). So, once the process has
started:

* ``gc.freeze()`` moves everything alive into the permanent generation, which no collection walks:
  a full collection then takes ~1 ms. What is frozen is still freed by reference counting; only a
  cycle among those start-up objects would outlive its use, and they live as long as the process.
* The youngest generation's threshold goes from 700 to ``YOUNG_THRESHOLD``. It counts tracked
  objects allocated net of those freed, and the pushes in flight hold a few thousand between them
  (greenlets, frames, sessions, rows): at 700 the count kept crossing it. ``BENCH_PUSH_GC=1 python
  -m bench push``, PostgreSQL, 4 x 5 s of pushes: 1,542 young and 140 middle collections (310 ms)
  and 4 full ones (513 ms, the longest 134 ms) before; 2 young ones (2 ms) after. CPython 3.12+
  ships 2,000 for the same reason.

Not for tests or tools that build many apps in one process: frozen objects are never collected as
cycles, so only the process entry points call :func:`settle`.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("bankfeeds.heap")

YOUNG_THRESHOLD = 5_000


def settle() -> int:
    """Collect what start-up left over, freeze the rest, collect the young generation less often.

    Returns (and logs) how many objects are frozen."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(YOUNG_THRESHOLD, young), middle, old)
    frozen = gc.get_freeze_count()
    log.info("start-up heap frozen: %d objects; the youngest generation is collected every %d net allocations",
             frozen, gc.get_threshold()[0])
    return frozen
