"""The durable job runner.

Work lives in database rows (push operations past their timeout, accounts nobody pulled,
webhook events to fan out and messages due), so a restart loses nothing: the next pass picks
it up. Tasks claim rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (and leases where the
work outlives a transaction) so several worker processes share the work.

Each task runs in its own *lane* (a thread), so a slow one (a webhook endpoint that takes
15 s to answer) never holds up the others. A lane sleeps until its poll interval passes or
it is woken (``worker.signals``: a commit that made work due, here or, on PostgreSQL, in
another process). A task is either a function doing one batch of due work in its own
transaction(s) and returning how many items it handled, or a ``LaneTask`` with its own
long-running loop (webhook delivery keeps deliveries in flight across passes). A task's
``wakes_on`` attribute names the ``worker.signals`` topics that wake its lane; its
``poll_seconds`` attribute, how long its lane sleeps when idle (default: the setting).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.kit import logging as structured_logging
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.observability import metrics
from bankfeeds.worker import signals

log = logging.getLogger("bankfeeds.worker")


@dataclass(frozen=True)
class TaskContext:
    database: Database
    settings: Settings
    clock: Clock


# A task does one batch of due work and returns how many items it handled (0: nothing due).
Task = Callable[[TaskContext], int]


class Lane(Protocol):
    def run_once(self) -> int:
        """One synchronous pass: handle what is due now, return how many items."""
        ...

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        """Work until ``stop`` is set, then finish or release what it holds, and return."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class LaneTask(Protocol):
    """A task with state of its own: ``open`` makes its lane for one worker."""

    __name__: str

    def open(self, ctx: TaskContext) -> Lane: ...


def session_task(fn: Callable[[Session, TaskContext], int]) -> Task:
    """Adapt a function that works in one transaction into a Task."""

    def task(ctx: TaskContext) -> int:
        with ctx.database.unit_of_work() as session:
            return fn(session, ctx)

    task.__name__ = fn.__name__
    return task


# The modules whose ``TASKS`` the worker runs. The demo surfaces' (the QuickBooks sandbox's daily pull;
# the Xero sandbox and the demo bank have none yet) run in demo mode only: elsewhere their tables
# do not exist (they are on the migrations' demo branch), so they are not even imported.
HUB_TASK_MODULES = (
    "bankfeeds.push_operations.tasks",
    "bankfeeds.source_accounts.tasks",
    "bankfeeds.webhooks.tasks",
    "bankfeeds.platforms.gbol.tasks",
    "bankfeeds.idempotency.tasks",
)
DEMO_TASK_MODULES = ("bankfeeds.sandbox.tasks",)


def default_tasks(*, demo: bool = False) -> list[Task | LaneTask]:
    """The hub's tasks, and in demo mode the demo surfaces' too."""
    tasks: list[Task | LaneTask] = []
    for module_name in HUB_TASK_MODULES + (DEMO_TASK_MODULES if demo else ()):
        tasks.extend(importlib.import_module(module_name).TASKS)
    return tasks


class FunctionLane:
    """A plain task in a loop: run it while it finds work, else sleep until woken or polled."""

    def __init__(self, task: Task, ctx: TaskContext) -> None:
        self.task = task
        self.ctx = ctx
        self.name = getattr(task, "__name__", repr(task))

    def run_once(self) -> int:
        started = time.perf_counter()
        with structured_logging.context():
            try:
                done = self.task(self.ctx)
            except Exception:
                log.exception("worker task %s failed; it will run again", self.name)
                return 0
            if done:
                metrics.JOBS.labels(self.name).inc(done)
                log.info("job %s handled %d item(s)", self.name, done, extra={
                    "kind": "job", "job": self.name, "items": done,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
            return done

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        poll = float(getattr(self.task, "poll_seconds", self.ctx.settings.worker_poll_seconds))
        while not stop.is_set():
            wake.clear()
            if self.run_once() == 0:
                wake.wait(poll)

    def close(self) -> None:
        pass


class Worker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        clock: Clock,
        tasks: list[Task | LaneTask] | None = None,
    ) -> None:
        self.ctx = TaskContext(database, settings, clock)
        self.tasks = default_tasks(demo=settings.demo) if tasks is None else tasks
        self.lanes: list[Lane] = [
            t.open(self.ctx) if isinstance(t, LaneTask) else FunctionLane(t, self.ctx) for t in self.tasks
        ]
        # The ``worker.signals`` topics whose commits wake each lane (a task's ``wakes_on``).
        self.topics: list[tuple[str, ...]] = [tuple(getattr(t, "wakes_on", ())) for t in self.tasks]
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
