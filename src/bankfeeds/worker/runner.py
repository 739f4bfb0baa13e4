"""The durable job runner: each tick runs every task in its own transaction.

Work lives in database rows (push operations past their timeout, accounts nobody pulled,
webhook messages due), so a restart loses nothing: the next tick picks it up. Tasks claim
rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so several workers share the work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database

log = logging.getLogger("bankfeeds.worker")


@dataclass(frozen=True)
class TaskContext:
    database: Database
    settings: Settings
    clock: Clock


# A task does one batch of due work and returns how many items it handled (0: nothing due).
Task = Callable[[TaskContext], int]


def session_task(fn: Callable[[Session, TaskContext], int]) -> Task:
    """Adapt a function that works in one transaction into a Task."""

    def task(ctx: TaskContext) -> int:
        with ctx.database.unit_of_work() as session:
            return fn(session, ctx)

    task.__name__ = fn.__name__
    return task


def default_tasks() -> list[Task]:
    tasks: list[Task] = []
    for module_name in (
        "bankfeeds.push_operations.tasks",
        "bankfeeds.source_accounts.tasks",
        "bankfeeds.webhooks.tasks",
    ):
        try:
            module = __import__(module_name, fromlist=["TASKS"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        tasks.extend(module.TASKS)
    return tasks


class Worker:
    def __init__(
        self, database: Database, settings: Settings, clock: Clock, tasks: list[Task] | None = None
    ) -> None:
        self.ctx = TaskContext(database, settings, clock)
        self.tasks = default_tasks() if tasks is None else tasks
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One pass over every task, repeated while any finds work. Returns the items handled."""
        total = 0
        for task in self.tasks:
            try:
                total += task(self.ctx)
            except Exception:
                log.exception("worker task %s failed; it will run again next tick", task.__name__)
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

    def run_forever(self) -> None:
        while not self._stop.is_set():
            busy = self.run_once()
            if not busy:
                self._stop.wait(self.ctx.settings.worker_poll_seconds)

    def start_in_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="bankfeeds-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful: the current pass finishes (its transaction commits or rolls back), then we stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
