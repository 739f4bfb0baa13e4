"""kit.db on SQLite: a transaction begins with BEGIN IMMEDIATE on the driver; a database another
process holds is SQLAlchemy's OperationalError (the app's 503), and the writer's turn is given back;
a unit of work "now" never waits for another writer (WouldWait), and run_async works on the event
loop unless another process holds the database."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bankfeeds.kit.db import Database, WouldWait


def test_a_busy_database_at_begin_is_an_operational_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    database = Database(f"sqlite:///{path}")
    with database.engine.connect() as conn:
        # The pool's one connection waits 50 ms, not 30 s, for the lock.
        conn.connection.dbapi_connection.execute("PRAGMA busy_timeout=50")  # type: ignore[union-attr]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        with pytest.raises(OperationalError, match="locked"), database.unit_of_work() as session:
            session.execute(text("SELECT 1"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    with database.unit_of_work() as session:  # the turn was given back: the next writer goes ahead
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    with database.unit_of_work() as session:
        assert session.execute(text("SELECT x FROM t")).scalar_one() == 1
    database.dispose()


@contextmanager
def _another_thread_writing(database: Database, x: int, seconds: float = 10) -> Iterator[threading.Event]:
    """A thread of this process inside a write (of ``x``) until the event is set or ``seconds`` pass."""
    started, finish = threading.Event(), threading.Event()

    def writer() -> None:
        with database.unit_of_work() as session:
            session.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
            started.set()
            finish.wait(seconds)

    thread = threading.Thread(target=writer)
    thread.start()
    assert started.wait(10)
    try:
        yield finish
    finally:
        finish.set()
        thread.join(10)


def _rows(database: Database) -> list[int]:
    with database.unit_of_work() as session:
        return [row[0] for row in session.execute(text("SELECT x FROM t ORDER BY x"))]


def test_a_unit_of_work_now_commits_on_a_connection_of_its_own_and_never_waits(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'now.db'}")
    assert database.can_work_now
    with database.unit_of_work() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    with database.unit_of_work_now() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        first = session.connection().connection.dbapi_connection
    with database.unit_of_work_now() as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
        assert session.connection().connection.dbapi_connection is first  # kept open, not the pool's
    assert _rows(database) == [1, 2]

    # Another thread of this process is writing: WouldWait at once, with a way to wait for it.
    with _another_thread_writing(database, 3) as finish:
        began = time.monotonic()
        with pytest.raises(WouldWait) as raised, database.unit_of_work_now() as session:
            session.execute(text("INSERT INTO t VALUES (4)"))
        assert time.monotonic() - began < 1
        assert raised.value.wait is not None and raised.value.wait(0.01) is False  # still writing
        finish.set()
        assert raised.value.wait(10) is True
    assert _rows(database) == [1, 2, 3]

    # Another process holds the database: WouldWait at once (not after busy_timeout), nothing to wait for here.
    other = sqlite3.connect(tmp_path / "now.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        began = time.monotonic()
        with pytest.raises(WouldWait) as raised, database.unit_of_work_now() as session:
            session.execute(text("INSERT INTO t VALUES (5)"))
        assert time.monotonic() - began < 1 and raised.value.wait is None
    finally:
        other.execute("ROLLBACK")
        other.close()
    with database.unit_of_work_now() as session:  # the turn was given back
        session.execute(text("INSERT INTO t VALUES (6)"))
    assert _rows(database) == [1, 2, 3, 6]
    database.dispose()


def test_only_a_sqlite_file_has_a_unit_of_work_now(tmp_path: Path) -> None:
    database = Database("sqlite:///:memory:")  # every connection its own database: nothing to share
    assert not database.can_work_now
    with pytest.raises(WouldWait), database.unit_of_work_now():
        pass
    database.dispose()


def test_run_async_on_sqlite_works_on_the_event_loop_and_in_a_thread_only_while_another_process_writes(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'async.db'}")
    with database.unit_of_work() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))

    def insert(x: int) -> Callable[[Session], int]:
        def work(session: Session) -> int:
            session.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
            return threading.get_ident()
        return work

    async def on_loop(x: int) -> bool:
        return await database.run_async(insert(x)) == threading.get_ident()

    assert asyncio.run(on_loop(1))  # the database is free: on the loop itself

    # Another thread of this process writes for a moment: the loop waits for it, then works itself.
    with _another_thread_writing(database, 2, seconds=0.005):
        assert asyncio.run(on_loop(3))

    # Another process writes: a thread waits for it (busy_timeout), the loop goes on serving.
    other = sqlite3.connect(tmp_path / "async.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    ends = threading.Timer(0.2, lambda: other.execute("ROLLBACK"))
    ends.start()
    try:
        assert not asyncio.run(on_loop(4))
    finally:
        ends.join(10)
        other.close()

    async def failing() -> None:
        def work(session: Session) -> None:
            session.execute(text("INSERT INTO t VALUES (5)"))
            raise LookupError("rolled back")
        await database.run_async(work)

    with pytest.raises(LookupError):
        asyncio.run(failing())
    assert _rows(database) == [1, 2, 3, 4]
    database.dispose()
