"""The disconnection task: QuickBooks accounts nobody pulled for 10 days turn disconnected."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select, text

from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import SourceAccount
from bankfeeds.source_accounts import tasks
from bankfeeds.source_accounts.tasks import disconnect_stale
from bankfeeds.worker import registry
from bankfeeds.worker.runner import Worker
from bankfeeds.worker.task import TaskContext
from tests.fixtures.factories import make_source_account
from tests.fixtures.reads import events
from tests.source_accounts.helpers import connection_status, feed, stored

DISCONNECTED = "bankFeeds.sourceAccount.disconnected"


def drain(database: Database, settings: Settings, clock: FrozenClock) -> int:
    return Worker(database, settings, clock, tasks=[disconnect_stale]).drain()


def statuses(database: Database, connection_id: object) -> dict[str, str]:
    with database.unit_of_work() as session:
        rows = session.scalars(select(SourceAccount).where(SourceAccount.connection_id == connection_id))
        return {r.account_id: r.status for r in rows}


def test_registered_with_the_worker() -> None:
    assert any(t.name == "disconnect_stale" for t in registry.tasks())


def test_ten_days_without_a_pull_disconnects(database: Database, settings: Settings, clock: FrozenClock) -> None:
    start = clock.now()
    _, connection = feed(database, clock, status="Linked")
    make_source_account(database, clock, connection, "pulled", connected_at=start, last_pulled_at=start)
    make_source_account(database, clock, connection, "never-pulled", connected_at=start)
    clock.advance(timedelta(days=10) - timedelta(seconds=1))
    assert drain(database, settings, clock) == 0
    assert statuses(database, connection.id) == {"pulled": "connected", "never-pulled": "connected"}

    # A pull on day 9 restarts that account's ten days.
    with database.unit_of_work() as session:
        row = session.scalars(select(SourceAccount).where(SourceAccount.account_id == "pulled")).one()
        row.last_pulled_at = clock.now()
    clock.advance(timedelta(seconds=2))
    assert drain(database, settings, clock) == 1
    assert statuses(database, connection.id) == {"pulled": "connected", "never-pulled": "disconnected"}
    assert connection_status(database, connection) == "Linked"
    assert [e["payload"]["sourceAccount"]["id"] for e in events(database, DISCONNECTED)] == ["never-pulled"]

    clock.advance(timedelta(days=10))
    assert drain(database, settings, clock) == 1
    assert statuses(database, connection.id) == {"pulled": "disconnected", "never-pulled": "disconnected"}
    # Every account disconnected: the connection is Unlinked, once.
    assert connection_status(database, connection) == "Unlinked"
    assert len(events(database, "connection.disconnected")) == 1
    assert drain(database, settings, clock) == 0
    assert len(events(database, DISCONNECTED)) == 2


def test_only_connected_quickbooks_accounts(database: Database, settings: Settings, clock: FrozenClock) -> None:
    start = clock.now()
    _, xero = feed(database, clock, platform="gbol", status="Linked")
    make_source_account(database, clock, xero, "xero", connected_at=start)
    _, qbo = feed(database, clock, status="Linked")
    for status in ("pending", "connecting", "disconnected", "unknown"):
        make_source_account(database, clock, qbo, status, status=status)
    clock.advance(timedelta(days=30))
    assert drain(database, settings, clock) == 0
    assert statuses(database, xero.id) == {"xero": "connected"}
    assert events(database, DISCONNECTED) == []
    assert connection_status(database, qbo) == "Linked"


def test_the_setting_decides_the_days(database: Database, db_url: str, clock: FrozenClock) -> None:
    from tests.fixtures.app import make_settings

    _, connection = feed(database, clock, status="Linked")
    make_source_account(database, clock, connection, "a", connected_at=clock.now())
    clock.advance(timedelta(days=3, seconds=1))
    assert drain(database, make_settings(db_url, source_account_disconnect_days=10), clock) == 0
    assert drain(database, make_settings(db_url, source_account_disconnect_days=3), clock) == 1


def test_works_in_bounded_batches(
    database: Database, settings: Settings, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "BATCH_SIZE", 2)
    _, connection = feed(database, clock, status="Linked")
    for i in range(5):
        make_source_account(database, clock, connection, f"a{i}", connected_at=clock.now())
    clock.advance(timedelta(days=11))
    ctx = TaskContext(database, settings, clock)
    assert disconnect_stale.run_once(ctx) == 2
    assert list(statuses(database, connection.id).values()).count("disconnected") == 2
    assert drain(database, settings, clock) == 3
    assert set(statuses(database, connection.id).values()) == {"disconnected"}
    assert connection_status(database, connection) == "Unlinked"
    assert len(events(database, DISCONNECTED)) == 5


def test_a_batch_loads_its_connections_and_companies_with_the_claim(
    database: Database, settings: Settings, clock: FrozenClock
) -> None:
    """No query per account for its connection or company (they come with the claim)."""
    for i in range(4):
        _, connection = feed(database, clock, status="Linked")
        make_source_account(database, clock, connection, f"a{i}", connected_at=clock.now())
    clock.advance(timedelta(days=11))
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()).lower())

    sa_event.listen(database.engine, "before_cursor_execute", record)
    try:
        assert disconnect_stale.run_once(TaskContext(database, settings, clock)) == 4
    finally:
        sa_event.remove(database.engine, "before_cursor_execute", record)
    # Whole rows of connections or companies, loaded on their own (the claim selects from source_accounts;
    # the unlink rule's lock reads one column, connections.status).
    loads = [s for s in statements if s.startswith(("select connections.id, ", "select companies.id, "))]
    assert loads == []
    assert sum(s.startswith("select") and "from source_accounts join connections" in s for s in statements) == 1
    assert len(events(database, DISCONNECTED)) == 4


@pytest.mark.committed_database  # another connection holds a row lock
def test_postgresql_skips_rows_another_worker_holds(
    database: Database, settings: Settings, clock: FrozenClock, db_kind: str
) -> None:
    if db_kind != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is a PostgreSQL feature; SQLite has a single writer")
    _, busy = feed(database, clock, status="Linked")
    _, free = feed(database, clock, status="Linked")
    make_source_account(database, clock, busy, "busy", connected_at=clock.now())
    make_source_account(database, clock, free, "free", connected_at=clock.now())
    clock.advance(timedelta(days=11))
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:  # another transaction (say an IDX pull) holds the busy connection's row
        with database.engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM connections WHERE id = :id FOR UPDATE"), {"id": busy.id})
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        assert Worker(database, settings, clock, tasks=[disconnect_stale]).run_once() == 1
        assert statuses(database, free.id) == {"free": "disconnected"}
        assert statuses(database, busy.id) == {"busy": "connected"}
    finally:
        release.set()
        thread.join(10)
    assert drain(database, settings, clock) == 1
    assert stored(database, busy, "busy") is not None
    assert statuses(database, busy.id) == {"busy": "disconnected"}
