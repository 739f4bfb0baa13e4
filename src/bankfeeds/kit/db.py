"""Engine, sessions and the unit of work.

One transaction per request, job or CLI command: the caller opens it with ``unit_of_work``;
services only ``flush()``. SQLite runs in WAL mode with foreign keys on.

SQLite has one writer at a time: every transaction starts with BEGIN IMMEDIATE. Within one process
the writers also take turns on a lock of their own (one per database file) before BEGIN IMMEDIATE,
given back the moment their COMMIT or ROLLBACK returns: a waiting thread starts as soon as the
writer before it ends, instead of sleeping in SQLite's busy handler (1, 2, 5 ... 100 ms naps), which
left the database idle and made tail latencies of hundreds of milliseconds under concurrent
writes. Other processes still wait in the busy handler (``busy_timeout``), as before.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import simplejson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

from bankfeeds.kit import jsonutil


class Base(DeclarativeBase):
    pass


def _json_loads(raw: str) -> Any:
    return simplejson.loads(raw, use_decimal=True)


# JSON columns keep Decimals exact and store datetimes as ISO text.
_JSON = {"json_serializer": jsonutil.dumps, "json_deserializer": _json_loads}

# As SQLite's own busy_timeout: past it, a writer goes on to BEGIN IMMEDIATE without its turn.
TURN_WAIT_SECONDS = 30.0
_turns: dict[str, threading.Lock] = {}
_turns_lock = threading.Lock()


def _turn_of(path: str) -> threading.Lock:
    key = os.path.realpath(path.split("?", 1)[0])
    with _turns_lock:
        return _turns.setdefault(key, threading.Lock())


class _TurnTakingConnection(sqlite3.Connection):
    """A SQLite connection that holds its file's writer turn from BEGIN to COMMIT/ROLLBACK/close.

    The turn may be released by another thread than the one that took it (a request's unit of
    work can begin and end on different threads of the pool), hence a plain Lock.
    """

    turn: threading.Lock | None = None
    holding = False

    def take_turn(self) -> None:
        if self.turn is not None and not self.holding:
            self.holding = self.turn.acquire(timeout=TURN_WAIT_SECONDS)

    def give_back(self) -> None:
        if self.holding:
            self.holding = False
            assert self.turn is not None
            self.turn.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_back()

    def __del__(self) -> None:
        # A connection dropped without close() (a thread that died holding it) must not keep
        # the turn: the driver closes the database when the object goes; the turn goes with it.
        self.give_back()


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        file_backed = bool(path) and path != ":memory:" and "mode=memory" not in url
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "factory": _TurnTakingConnection},
            poolclass=NullPool if path in ("", ":memory:") else None,
            **_JSON,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # The driver's own transaction handling is turned off so BEGIN IMMEDIATE below
            # takes the write lock up front: no "database is locked" upgrade deadlocks.
            dbapi_conn.isolation_level = None
            if file_backed and isinstance(dbapi_conn, _TurnTakingConnection):
                dbapi_conn.turn = _turn_of(path)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            dbapi_conn = conn.connection.dbapi_connection
            turn_taking = isinstance(dbapi_conn, _TurnTakingConnection)
            if turn_taking:
                dbapi_conn.take_turn()
            try:
                # On the driver (every transaction begins here: no statement machinery), its
                # errors raised as SQLAlchemy raises them (a busy database: OperationalError).
                try:
                    dbapi_conn.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as err:
                    raise DBAPIError.instance("BEGIN IMMEDIATE", (), err, sqlite3.Error,
                                              dialect=conn.dialect) from err
            except BaseException:
                if turn_taking:
                    dbapi_conn.give_back()
                raise

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True, **_JSON)


class Database:
    """An engine and its session factory; one per process."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose work commits when the block ends and rolls back if it raises."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
