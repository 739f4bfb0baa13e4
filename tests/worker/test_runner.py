"""The worker: one lane per task, woken by commits, stopped gracefully."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.worker import signals
from bankfeeds.worker.runner import Worker
from bankfeeds.worker.task import Task, TaskContext, task
from tests.fixtures.app import make_settings

# The worker's lanes run in threads of their own and wake on commits (NOTIFY on PostgreSQL): real commits.
pytestmark = pytest.mark.committed_database


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def counting(name: str, items: list[int] | None = None, wakes_on: tuple[str, ...] = ()) -> tuple[Task, list[int]]:
    """A task that handles the items queued in ``items`` (one per pass), counting its passes."""
    passes: list[int] = []
    queue = items if items is not None else []

    @task(name=name, wakes_on=wakes_on)
    def counted(ctx: TaskContext) -> int:
        passes.append(1)
        if queue:
            queue.pop()
            return 1
        return 0

    return counted, passes


@pytest.fixture
def slow_poll(db_url: str) -> Settings:
    return make_settings(db_url, worker_poll_seconds=60.0)


def test_drain_runs_every_task_until_nothing_is_due(database: Database, settings: Settings, clock: FrozenClock) -> None:
    a, a_passes = counting("a", [1, 2, 3])
    b, _ = counting("b", [1])
    worker = Worker(database, settings, clock, tasks=[a, b])
    assert worker.drain() == 4
    assert len(a_passes) == 4  # three with work, one that found nothing
    assert worker.drain() == 0


def test_a_failing_task_does_not_stop_the_others(database: Database, settings: Settings, clock: FrozenClock) -> None:
    @task()
    def broken(ctx: TaskContext) -> int:
        raise RuntimeError("boom")

    ok, passes = counting("ok", [1])
    worker = Worker(database, settings, clock, tasks=[broken, ok])
    assert worker.drain() == 1 and len(passes) == 2


def test_a_slow_task_does_not_hold_up_the_others(database: Database, slow_poll: Settings, clock: FrozenClock) -> None:
    release, started = threading.Event(), threading.Event()

    @task(wakes_on=("t",))
    def slow(ctx: TaskContext) -> int:
        started.set()
        release.wait(10)
        return 0

    fast, passes = counting("fast", wakes_on=("t",))
    worker = Worker(database, slow_poll, clock, tasks=[slow, fast])
    worker.start()
    try:
        assert started.wait(10)
        before = len(passes)
        signals.wake_local(("t",))
        wait_until(lambda: len(passes) > before)  # ran while the slow task is still busy
        assert not release.is_set()
    finally:
        release.set()
        worker.stop()


def test_a_commit_wakes_the_lanes_of_its_topic(database: Database, slow_poll: Settings, clock: FrozenClock) -> None:
    woken, passes = counting("woken", wakes_on=("topic-a",))
    worker = Worker(database, slow_poll, clock, tasks=[woken])
    worker.start()
    try:
        wait_until(lambda: len(passes) == 1)  # the first pass, then it sleeps (60 s poll)
        with database.unit_of_work() as session:
            signals.mark(session, "topic-a")
        # At least one more pass (60 s poll: only the commit can cause it). On PostgreSQL the
        # commit wakes the lane twice, here and through NOTIFY, and the second wake may come
        # after the lane cleared the first: a third pass within a few ms, so not exactly 2.
        wait_until(lambda: len(passes) >= 2)
    finally:
        worker.stop()


def test_a_rollback_forgets_its_wake_up(database: Database) -> None:
    session = database.sessions()
    try:
        signals.mark(session, "topic-a")
        session.execute(text("SELECT 1"))
        session.rollback()
        assert "bankfeeds.work_due" not in session.info
    finally:
        session.close()


def test_postgresql_notify_wakes_workers_of_other_processes(
    db_kind: str, database: Database, slow_poll: Settings, clock: FrozenClock
) -> None:
    if db_kind != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    import psycopg

    listening, passes = counting("listening", wakes_on=("topic-b",))
    worker = Worker(database, slow_poll, clock, tasks=[listening])
    worker.start()
    try:
        wait_until(lambda: len(passes) == 1)
        time.sleep(0.5)  # let the listener connect; a NOTIFY before that is simply missed
        # Another process's commit: a separate connection, outside SQLAlchemy and this process's hooks.
        with psycopg.connect(database.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (signals.CHANNEL, "topic-b"))
        wait_until(lambda: len(passes) >= 2)
    finally:
        worker.stop()


def test_stop_lets_the_current_pass_finish(database: Database, slow_poll: Settings, clock: FrozenClock) -> None:
    inside, finished = threading.Event(), threading.Event()

    @task()
    def long_pass(ctx: TaskContext) -> int:
        if finished.is_set():
            return 0
        inside.set()
        time.sleep(0.3)
        finished.set()
        return 1

    worker = Worker(database, slow_poll, clock, tasks=[long_pass])
    worker.start()
    assert inside.wait(10)
    worker.stop()
    assert finished.is_set()


DEMO_PACKAGES = ("bankfeeds.sandbox", "bankfeeds.xero_sandbox", "bankfeeds.demo")


def test_a_production_worker_neither_imports_nor_runs_the_demo_surfaces_tasks(db_url: str) -> None:
    """Outside demo mode the demo surfaces' tables do not exist (their migration branch is not applied)."""
    probe = f"""
import sys
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.worker.runner import Worker
from tests.fixtures.app import make_settings
for demo in (False, True):
    worker = Worker(Database({db_url!r}), make_settings({db_url!r}, demo=demo), SystemClock())
    print(demo, sorted(t.name for t in worker.tasks))
    print(demo, sorted(m for m in sys.modules if m.startswith({DEMO_PACKAGES!r})))
    worker.close()
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    production_tasks, production_modules, demo_tasks, demo_modules = done.stdout.splitlines()
    assert production_tasks.startswith("False [") and "time_out_pending" in production_tasks
    assert "sandbox_daily_pull" not in production_tasks
    assert production_modules == "False []"  # not even imported
    assert "sandbox_daily_pull" in demo_tasks and "time_out_pending" in demo_tasks
    assert "bankfeeds.sandbox.tasks" in demo_modules


def test_a_lane_that_knows_its_batch_size_sleeps_after_a_batch_that_was_not_full(
    database: Database, slow_poll: Settings, clock: FrozenClock
) -> None:
    """A trickle (one item per request) is not run a transaction per item: after a run that
    handled less than a full batch the lane sleeps until woken; after a full one it runs again."""
    queue = [1, 2, 3, 4, 5]
    passes: list[int] = []

    @task(name="sized", wakes_on=("sized",), batch_size=lambda ctx: 2)
    def sized(ctx: TaskContext) -> int:
        handled = min(2, len(queue))
        del queue[:handled]
        passes.append(handled)
        return handled

    worker = Worker(database, slow_poll, clock, tasks=[sized])
    worker.start()
    try:
        wait_until(lambda: passes == [2, 2, 1])  # full, full, then less than full: asleep (60 s poll)
        time.sleep(0.3)
        assert passes == [2, 2, 1]
        queue.append(6)
        signals.wake_local(("sized",))
        wait_until(lambda: passes == [2, 2, 1, 1])
        time.sleep(0.3)
        assert passes == [2, 2, 1, 1]
    finally:
        worker.stop()
