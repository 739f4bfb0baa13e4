"""kit.db on PostgreSQL: ``run_async`` works on the async driver on the event loop (no thread), its
driver cursors kept per connection and statement; a
pooled connection that died (a restart, a failover, an idle timeout) is replaced before use if it
sat idle, and found by its first statement if it died in the moment since its last use; either
way the next request gets a live connection. A push's hot lane, finding it so, leaves the request
to its route: the push is stored once and answered 200."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Column, Integer, MetaData, Table, column, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bankfeeds.api_keys import service as api_keys
from bankfeeds.app import create_app
from bankfeeds.kit import db, driver_sql
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.kit.driver_sql import DriverQuery, DriverStatement
from bankfeeds.models import BankTransaction, PushOperation
from tests.bank_transactions.helpers import post, txn, write_url
from tests.fixtures.app import NOW, basic, make_settings
from tests.fixtures.database import PG_ADMIN_URL
from tests.fixtures.factories import make_linked_feed


@pytest.fixture
def database(pg_process_db: str) -> Iterator[Database]:
    found = Database(pg_process_db)
    yield found
    found.dispose()


def test_run_async_works_in_an_async_session_on_the_event_loop(database: Database) -> None:
    with database.unit_of_work() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))

    def insert(x: int) -> Callable[[Session], tuple[int, int]]:
        def work(session: Session) -> tuple[int, int]:
            session.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
            if x == 2:
                raise LookupError("rolled back")
            return threading.get_ident(), int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        return work

    async def on_loop() -> None:
        thread, backend = await database.run_async(insert(1))
        assert thread == threading.get_ident()  # the event loop's own thread: no thread hop
        assert backend != _backend(database)  # a connection of the async engine's own pool
        with pytest.raises(LookupError):
            await database.run_async(insert(2))
        await database.dispose_async()

    asyncio.run(on_loop())
    with database.unit_of_work() as session:
        assert list(session.scalars(text("SELECT x FROM t"))) == [1]


def test_run_async_keeps_one_driver_cursor_per_connection_and_statement(database: Database) -> None:
    """``driver_sql`` on the async driver keeps psycopg's cursor of each statement per connection:
    every run reads its own rows (not the previous run's), a failed statement leaves its cursor
    usable, and a connection replaced after it died gets cursors of its own."""
    with database.unit_of_work() as session:
        session.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
    read = DriverQuery(text("SELECT x, pg_backend_pid() AS pid FROM t WHERE x >= :least ORDER BY x")
                       .columns(column("x", Integer), column("pid", Integer)))
    add = DriverStatement.insert(Table("t", MetaData(), Column("x", Integer, primary_key=True)), ["x"])
    kept: list[Any] = []

    def rows(least: int) -> Callable[[Session], list[tuple[Any, ...]]]:
        def work(session: Session) -> list[tuple[Any, ...]]:
            found = read.all(session, {"least": least})
            cursors = session.connection().info[driver_sql._CURSORS][1]
            kept.append(next(c for sql, c in cursors.items() if sql.startswith("SELECT x")).cursor)
            return found
        return work

    def insert(x: int) -> Callable[[Session], None]:
        return lambda session: add.execute(session, {"x": x})

    async def on_loop() -> None:
        for x in (1, 2, 3):
            await database.run_async(insert(x))
        first = await database.run_async(rows(2))
        second = await database.run_async(rows(1))
        assert [x for x, _ in first] == [2, 3] and [x for x, _ in second] == [1, 2, 3]
        assert first[0][1] == second[0][1] and kept[0] is kept[1]  # one connection, one cursor, kept
        with pytest.raises(IntegrityError):
            await database.run_async(insert(2))  # the same statement's cursor fails ...
        await database.run_async(insert(4))  # ... and serves the next run
        assert [x for x, _ in await database.run_async(rows(4))] == [4]
        _terminate_connections(database.url)
        with pytest.raises(OperationalError):
            await database.run_async(rows(1))  # found dead by its statement: both pools replaced
        after = await database.run_async(rows(1))
        assert [x for x, _ in after] == [1, 2, 3, 4] and after[0][1] != first[0][1]
        assert kept[-1] is not kept[0]  # the new connection's own cursor
        await database.dispose_async()

    asyncio.run(on_loop())


def _backend(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate_connections(url: str) -> None:
    """What a database restart does to the pool's connections: every one is ended by the server."""
    name = url.rsplit("/", 1)[1]
    others = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"SELECT pg_terminate_backend(pid) FROM ({others}) AS o", (name,))
        deadline = time.monotonic() + 10
        while admin.execute(others, (name,)).fetchall():
            assert time.monotonic() < deadline, "the backends did not end"
            time.sleep(0.02)


def test_a_connection_that_died_idle_is_replaced_before_use(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    first = _backend(database)
    _terminate_connections(database.url)
    assert _backend(database) != first  # no error: the dead one was tested and thrown away

    def backend(session: Session) -> int:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())

    async def async_engine() -> None:  # the async engine's pool alike
        first = await database.run_async(backend)
        _terminate_connections(database.url)
        assert await database.run_async(backend) != first
        await database.dispose_async()

    asyncio.run(async_engine())


def test_a_connection_in_steady_use_is_not_tested_and_a_dead_one_is_found_by_its_statement(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    first = _backend(database)
    assert _backend(database) == first
    _terminate_connections(database.url)
    with pytest.raises(OperationalError) as raised, database.unit_of_work() as session:
        session.execute(text("SELECT 1"))
    assert raised.value.connection_invalidated  # the app answers it 503 "retry shortly"
    assert _backend(database) != first  # every connection of the pool was replaced


def test_a_push_on_a_connection_that_died_is_stored_once_and_answered(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    clock = FrozenClock(NOW)
    company, connection, _ = make_linked_feed(database, clock)
    with database.unit_of_work() as session:
        _, raw = api_keys.create(session, clock, "tests")
    app = create_app(make_settings(database.url), clock=clock, database=database, run_worker=False)
    url = write_url(company, connection)
    with TestClient(app, headers={"Authorization": basic(raw)}, raise_server_exceptions=False) as client:
        body: dict[str, Any] = {"accountId": "acc-1", "transactions": [txn(1)]}
        assert post(client, url, body).status_code == 200
        _terminate_connections(database.url)
        second = post(client, url, {"accountId": "acc-1", "transactions": [txn(2)]})
        assert second.status_code == 200, second.text
        assert second.json()["status"] == "Success"
    with database.unit_of_work() as session:
        stored = session.scalars(select(BankTransaction.transaction_id).order_by(BankTransaction.transaction_id))
        assert list(stored) == ["t1", "t2"]
        assert session.scalar(select(func.count()).select_from(PushOperation)) == 2
