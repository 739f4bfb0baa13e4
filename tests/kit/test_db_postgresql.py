"""kit.db on PostgreSQL: ``run_async`` works in an async session on the event loop (no thread); a
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
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bankfeeds.api_keys import service as api_keys
from bankfeeds.app import create_app
from bankfeeds.kit import db
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
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
