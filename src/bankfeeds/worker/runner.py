"""The durable job runner.

Work lives in database rows (push operations past their timeout, accounts nobody pulled,
webhook events to fan out and messages due), so a restart loses nothing: the next pass picks
it up. Tasks claim rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (and leases where the
work outlives a transaction) so several worker processes share the work.

Each task (``worker.task``) runs in its own *lane* (a thread), so a slow one (a webhook endpoint
that takes 15 s to answer) never holds up the others. A lane sleeps until its poll interval passes
or it is woken (``worker.signals``: a commit that made work due, here or, on PostgreSQL, in
another process, on one of the task's ``wakes_on`` topics). The tasks are ``worker.registry``'s.
"""

from __future__ import annotations

import logging
import threading
import time

from bankfeeds.config import Settings
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.worker import registry, signals
from bankfeeds.worker.task import Lane, Task, TaskContext

log = logging.getLogger("bankfeeds.worker")


class Worker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        clock: Clock,
        tasks: list[Task] | None = None,
    ) -> None:
        self.ctx = TaskContext(database, settings, clock)
        self.tasks = registry.tasks(demo=settings.demo) if tasks is None else tasks
        self.lanes: list[Lane] = [t.open(self.ctx) for t in self.tasks]
        # The ``worker.signals`` topics whose commits wake each lane (a task's ``wakes_on``).
        self.topics: list[tuple[str, ...]] = [t.wakes_on for t in self.tasks]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._wakes: list[threading.Event] = []
        self._listener: signals.Listener | None = None

    def run_once(self) -> int:
        """One pass over every task. Returns the items handled."""
        total = 0
        for lane in self.lanes:
            try:
                total += lane.run_once()
            except Exception:
                log.exception("worker lane %r failed; it will run again", lane)
        return total

    def drain(self, max_rounds: int = 100) -> int:
        """Run until nothing is due (tests and CLI use this)."""
        total = 0
        for _ in range(max_rounds):
            done = self.run_once()
            total += done
            if done == 0:
                break
        return total

    def start(self) -> None:
        """Start one thread per lane (and the PostgreSQL wake-up listener); returns at once."""
        if self._threads:
            return
        self._stop.clear()
        if self.ctx.database.dialect == "postgresql":
            self._listener = signals.Listener(self.ctx.database.url)
            self._listener.start()
        for i, lane in enumerate(self.lanes):
            wake = threading.Event()
            signals.register(wake, self.topics[i])
            self._wakes.append(wake)
            thread = threading.Thread(
                target=self._run_lane, args=(lane, wake), name=f"bankfeeds-worker-{i}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _run_lane(self, lane: Lane, wake: threading.Event) -> None:
        while not self._stop.is_set():
            try:
                lane.run(self._stop, wake)
            except Exception:
                log.exception("worker lane %r crashed; restarting it", lane)
                self._stop.wait(1.0)

    def start_in_thread(self) -> None:
        self.start()

    def run_forever(self) -> None:
        """Run in the foreground until ``request_stop`` (a signal handler) or ``stop``."""
        self.start()
        while not self._stop.wait(1.0):
            pass
        self.stop()

    def request_stop(self) -> None:
        """Safe in a signal handler: lanes see it and wind down."""
        self._stop.set()
        for wake in self._wakes:
            wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful: each lane finishes (or releases) what it holds, then the threads end."""
        self.request_stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for wake in self._wakes:
            signals.unregister(wake)
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self._threads = []
        self._wakes = []
        self.close()

    def close(self) -> None:
        for lane in self.lanes:
            lane.close()
