"""Engine, sessions and the unit of work.

One transaction per request, job or CLI command: the caller opens it with ``unit_of_work``;
services only ``flush()``. SQLite runs in WAL mode with foreign keys on.

SQLite has one writer at a time: every transaction starts with BEGIN IMMEDIATE. Within one process
the writers also take turns on a lock of their own (one per database file) before BEGIN IMMEDIATE,
given back the moment their COMMIT or ROLLBACK returns: a waiting thread starts as soon as the
writer before it ends, instead of sleeping in SQLite's busy handler (1, 2, 5 ... 100 ms naps), which
left the database idle and made tail latencies of hundreds of milliseconds under concurrent
writes. Other processes still wait in the busy handler (``busy_timeout``), as before.

PostgreSQL: a pooled connection is tested (a round trip) before it is handed out only when it sat
in the pool for more than ``PING_AFTER_IDLE_SECONDS``: a restart, a failover or an idle timeout
drops connections that wait, and one that dropped is replaced before anyone uses it. Testing every
checkout (``pool_pre_ping``) cost a round trip per request on connections in constant use. One that
died in the moment since its last use is found by its first statement: SQLAlchemy then replaces
every connection of the pool, a push's hot lane declines (nothing was written) and its route
answers on a fresh connection, and any other request is answered 503 "retry shortly".
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import simplejson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.util.concurrency import greenlet_spawn

from bankfeeds.kit import jsonutil


class Base(DeclarativeBase):
    pass


# One decoder, made once (``simplejson.loads`` with options builds one at each call).
_DECODER = simplejson.JSONDecoder(parse_float=Decimal)


def _json_loads(raw: str) -> Any:
    return _DECODER.decode(raw)


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
    # The connection of ``Database.unit_of_work_now``: it never waits for the turn or the file.
    no_wait = False

    def take_turn(self) -> None:
        if self.turn is not None and not self.holding:
            if self.no_wait:
                if not self.turn.acquire(blocking=False):
                    raise WouldWait("another writer of this process holds the database", turn_waiter(self.turn))
                self.holding = True
            else:
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


class WouldWait(Exception):
    """A unit of work that may not wait (``Database.unit_of_work_now``) found the database held by
    another writer; nothing was done. ``wait(timeout)``, given when that writer is another thread of
    this process, blocks until it is done (True) or ``timeout`` seconds passed (False)."""

    def __init__(self, message: str, wait: Callable[[float], bool] | None = None) -> None:
        super().__init__(message)
        self.wait = wait


def turn_waiter(turn: threading.Lock) -> Callable[[float], bool]:
    """Waits for ``turn`` to be free, without keeping it (see ``WouldWait``)."""

    def wait(timeout: float) -> bool:
        if not turn.acquire(timeout=timeout):
            return False
        turn.release()
        return True

    return wait


_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def is_busy(err: BaseException | None) -> bool:
    """A SQLite error saying another connection holds the database (any extended BUSY or LOCKED code)."""
    code = getattr(err, "sqlite_errorcode", 0) if isinstance(err, sqlite3.Error) else 0
    return (code & 0xFF) in (_SQLITE_BUSY, _SQLITE_LOCKED)


def _sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return path if path and path != ":memory:" and "mode=memory" not in url else None


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        file = _sqlite_file(url)
        if file is not None:
            Path(file).parent.mkdir(parents=True, exist_ok=True)
        file_backed = file is not None
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
                    if turn_taking and dbapi_conn.no_wait and is_busy(err):
                        raise WouldWait("another process holds the database") from err
                    raise DBAPIError.instance("BEGIN IMMEDIATE", (), err, sqlite3.Error,
                                              dialect=conn.dialect) from err
            except BaseException:
                if turn_taking:
                    dbapi_conn.give_back()
                raise

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, pool_size=pool_size, max_overflow=20, **_JSON)
    _ping_after_idle(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "bankfeeds.idle_since"


def _ping_after_idle(engine: Engine) -> None:
    """Test a pooled connection before use if it sat idle (see the module docstring)."""

    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as err:
            # The pool throws this connection away and hands out a new one.
            raise DisconnectionError("a pooled connection no longer answers") from err


T = TypeVar("T")

# PostgreSQL: the async engine's pool (the pushes' hot lane) beyond ``pool_size`` (docs/deploy.md
# plans connections for it).
ASYNC_OVERFLOW = 10

# Database.run_async on SQLite: how long the event loop waits for another thread's write, how often.
NOW_WAIT_SECONDS = 0.02
NOW_TRIES = 3


def _lost_connection(err: BaseException | None) -> bool:
    """Whether ``err``, or an error it was raised from, is a database connection found dead."""
    seen = 0
    while err is not None and seen < 8:
        if isinstance(err, DBAPIError) and err.connection_invalidated:
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


def _committed(session: Session, work: Callable[[Session], T]) -> T:
    with committing(session):
        return work(session)


@contextmanager
def committing(session: Session) -> Iterator[Session]:
    """``session``, committed when the block ends, rolled back if it raises, then closed."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database:
    """An engine and its session factory; one per process."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.pool_size = pool_size
        self._now_lock = threading.Lock()
        self._now_connection: Connection | None = None
        self._async: tuple[asyncio.AbstractEventLoop, AsyncEngine, sessionmaker[Session]] | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose work commits when the block ends and rolls back if it raises."""
        try:
            with committing(self.sessions()) as session:
                yield session
        except BaseException as err:
            found = self._async
            if found is not None and _lost_connection(err):
                found[1].sync_engine.dispose(close=False)  # as run_async does for the other pool
            raise

    @property
    def can_work_now(self) -> bool:
        """Whether ``unit_of_work_now`` can ever run: a SQLite file (its writers take turns anyway)."""
        return self.dialect == "sqlite" and _sqlite_file(self.url) is not None

    @contextmanager
    def unit_of_work_now(self) -> Iterator[Session]:
        """``unit_of_work`` for a caller that must not wait (the event loop: a wait would stall every
        request), on SQLite, whose writers take turns anyway: a connection of its own, kept open,
        used by one caller at a time, that never waits for the writer's turn, for another process's
        lock, or for a connection of the pool. Where it would, ``WouldWait`` is raised and nothing
        was done (at its first statement; or at a later one, rolled back, if another process's
        writer came between): the caller then takes ``unit_of_work``."""
        if not self.can_work_now or not self._now_lock.acquire(blocking=False):
            raise WouldWait("no connection that never waits is free")
        try:
            connection = self._now_connection
            if connection is None or connection.closed:
                connection = self._now_connection = self.engine.connect()
                driver: Any = connection.connection.dbapi_connection
                driver.no_wait = True
                driver.execute("PRAGMA busy_timeout=0")
            try:
                with committing(Session(bind=connection, expire_on_commit=False, autoflush=False)) as session:
                    yield session
            except DBAPIError as err:
                if is_busy(err.orig):  # rolled back
                    raise WouldWait("another process holds the database") from err
                raise
        finally:
            self._now_lock.release()

    async def run_async(self, work: Callable[[Session], T]) -> T:
        """``work`` in a unit of work (committed if it returns, rolled back if it raises), for code on
        the event loop, which a wait for the database must not stall; for short work (the loop
        serves nothing else while it computes). Not in a thread: handing the
        work to one and back, the two threads trading the interpreter lock at every statement, cost
        more than the work (a third of a push's CPU).

        * PostgreSQL: on psycopg's async driver, as SQLAlchemy's ``AsyncSession`` runs it: ``work``
          (a plain ``Session`` of the async engine) runs in a greenlet on the loop, each statement
          awaited while the loop serves other requests.
        * A SQLite file (its writers take turns anyway): on the loop itself in ``unit_of_work_now``.
          While another thread of this process writes, the loop waits for it, at most
          ``NOW_WAIT_SECONDS``, up to ``NOW_TRIES`` times (on purpose: that writer needs the
          interpreter lock to finish, and a loop busy serving or retrying keeps it from it, a
          worker's transaction of a millisecond then holding the database for tens). Past that,
          or while another process holds the database, in a thread, ``unit_of_work``, which waits
          as long as it takes.
        * Otherwise: in a thread.
        """
        if self.dialect == "postgresql":
            try:
                # The whole unit (work, commit, close) in one greenlet: an AsyncSession would spawn
                # one for the work and another to close.
                return await greenlet_spawn(_committed, self._async_sessions()(), work)
            except BaseException as err:
                if _lost_connection(err):
                    # The database restarted (or failed over): the other pool's connections are gone too.
                    self.engine.dispose(close=False)
                raise
        if self.can_work_now:
            for _ in range(NOW_TRIES):
                try:
                    with self.unit_of_work_now() as session:
                        return work(session)
                except WouldWait as busy:
                    if busy.wait is None or not busy.wait(NOW_WAIT_SECONDS):
                        break
        return await self.run_in_thread(work)

    async def run_in_thread(self, work: Callable[[Session], T]) -> T:
        """``work`` in a unit of work in the threadpool: for work long enough to hold up the event
        loop's other requests (``run_async`` runs it on the loop)."""
        return await anyio.to_thread.run_sync(self._work_in_thread, work)

    def _work_in_thread(self, work: Callable[[Session], T]) -> T:
        with self.unit_of_work() as session:
            return work(session)

    def _async_sessions(self) -> sessionmaker[Session]:
        """PostgreSQL: an async engine (its own pool) and its sessions, for this event loop (an
        engine's connections belong to the loop that made them)."""
        loop = asyncio.get_running_loop()
        found = self._async
        if found is None or found[0] is not loop:
            from bankfeeds.kit.pg_async import PgConnection  # psycopg: PostgreSQL only

            url = "postgresql+psycopg_async://" + self.url.split("://", 1)[1]
            # psycopg's connection with a cheaper wait on the loop (``kit/pg_async.py``).
            engine = create_async_engine(url, pool_size=self.pool_size, max_overflow=ASYNC_OVERFLOW,
                                         connect_args={"async_creator_fn": PgConnection.connect}, **_JSON)
            _ping_after_idle(engine.sync_engine)
            found = self._async = (loop, engine, sessionmaker(engine.sync_engine, expire_on_commit=False,
                                                              autoflush=False))
        return found[2]

    async def dispose_async(self) -> None:
        """Close the async engine's connections (at the end of the event loop that made them)."""
        found, self._async = self._async, None
        if found is not None:
            await found[1].dispose()

    def dispose(self) -> None:
        with self._now_lock:
            if self._now_connection is not None:
                self._now_connection.close()
                self._now_connection = None
        self.engine.dispose()
