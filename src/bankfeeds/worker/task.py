"""What a worker task is: one typed ``Task``, declared with ``@task`` (or, for a lane with a loop and
state of its own, built as a ``Task`` whose ``open`` makes that lane).

A task runs in its own *lane* (a thread of the worker, ``worker.runner``). Most tasks do one batch
of due work per pass in their own transaction(s) and return how many items they handled::

    @task(wakes_on=(TOPIC,), poll_seconds=60.0)
    def purge_something(ctx: TaskContext) -> int:
        with ctx.database.unit_of_work() as session:
            return service.purge(session, ctx.clock)

Its lane runs it while it finds work, then sleeps until a commit marks one of the ``wakes_on``
topics (``worker.signals``) or ``poll_seconds`` pass (default: ``settings.worker_poll_seconds``).
A task with a long-running loop of its own (webhook delivery keeps deliveries in flight across
passes) is ``Task(name, open=...)``, ``open`` making its ``Lane`` for one worker.

Which tasks a worker runs is ``worker.registry``'s to say.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from bankfeeds.config import Settings
from bankfeeds.kit import logging as structured_logging
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.observability import metrics

log = logging.getLogger("bankfeeds.worker")


@dataclass(frozen=True)
class TaskContext:
    database: Database
    settings: Settings
    clock: Clock


# One batch of due work: returns how many items it handled (0: nothing due).
Batch = Callable[[TaskContext], int]


class Lane(Protocol):
    def run_once(self) -> int:
        """One synchronous pass: handle what is due now, return how many items."""
        ...

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        """Work until ``stop`` is set, then finish or release what it holds, and return."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Task:
    """One kind of background work, run in a lane of its own by every worker."""

    # Its name in logs and metrics (``bankfeeds_jobs_total{job=...}``).
    name: str
    # Makes the task's lane for one worker.
    open: Callable[[TaskContext], Lane]
    # The ``worker.signals`` topics whose commits wake its lane.
    wakes_on: tuple[str, ...] = ()
    # How long its lane sleeps when it found nothing to do (None: ``settings.worker_poll_seconds``).
    # A batch task's lane takes it from here; a lane of its own decides for itself.
    poll_seconds: float | None = None

    def run_once(self, ctx: TaskContext) -> int:
        """One pass outside a worker (tests, one-off runs): open a lane, run it once, close it."""
        lane = self.open(ctx)
        try:
            return lane.run_once()
        finally:
            lane.close()


def task(
    *, name: str | None = None, wakes_on: Iterable[str] = (), poll_seconds: float | None = None,
    batch_size: Callable[[TaskContext], int] | None = None,
) -> Callable[[Batch], Task]:
    """Declare a batch function a worker task.

    ``name`` defaults to the function's; ``wakes_on`` names the ``worker.signals`` topics that wake
    its lane; ``poll_seconds`` is how long the lane sleeps when idle (default: the setting).
    ``batch_size``: the most items one run handles; a run that handled fewer found all that was
    due, and the lane sleeps until woken or polled rather than run again at once (without it, the
    lane runs again while it finds anything: a task fed a trickle, one item per request, would
    run a transaction per item).
    """
    topics = tuple(wakes_on)

    def declare(batch: Batch) -> Task:
        task_name = name or batch.__name__

        def open_lane(ctx: TaskContext) -> Lane:
            return BatchLane(task_name, batch, ctx, poll_seconds, batch_size(ctx) if batch_size else None)

        return Task(task_name, open_lane, topics, poll_seconds)

    return declare


class BatchLane:
    """A batch task in a loop: run it again at once while it finds work (a full batch, if its size
    is known), else sleep until woken or polled."""

    def __init__(
        self, name: str, batch: Batch, ctx: TaskContext, poll_seconds: float | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.name = name
        self.batch_size = batch_size
        self.batch = batch
        self.ctx = ctx
        self.poll_seconds = ctx.settings.worker_poll_seconds if poll_seconds is None else poll_seconds

    def __repr__(self) -> str:
        return f"<BatchLane {self.name}>"

    def run_once(self) -> int:
        started = time.perf_counter()
        with structured_logging.context():
            try:
                done = self.batch(self.ctx)
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
        while not stop.is_set():
            wake.clear()
            done = self.run_once()
            if done == 0 or (self.batch_size is not None and done < self.batch_size):
                wake.wait(self.poll_seconds)

    def close(self) -> None:
        pass
