"""kit.driver_sql: compiled-once writes on the session's driver connection store what the ORM stores."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from sqlalchemy import Table, bindparam, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import DetachedInstanceError

from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.kit.driver_sql import DriverQuery, DriverStatement, NotAsExpected, batched, loaded, queue_checked
from bankfeeds.models import Connection, Event, PushOperation, SourceAccount
from tests.fixtures.factories import make_linked_feed

_TABLE = cast(Table, PushOperation.__table__)
_COLUMNS = [prop.key for prop in inspect(PushOperation).column_attrs]
_INSERT = DriverStatement.insert(_TABLE, _COLUMNS)
_UPDATE = DriverStatement.update(cast(Table, SourceAccount.__table__), ("balance", "newest_transaction_date"))


def _operation(company_id: uuid.UUID, connection_id: uuid.UUID, now: datetime) -> PushOperation:
    return PushOperation(
        key=uuid.uuid4(), company_id=company_id, connection_id=connection_id, source_account_id="acc-1",
        data_type="bankTransactions", status="Failed", status_code=400, requested_at=now,
        completed_at=now + timedelta(microseconds=1), timeout_in_minutes=5, timeout_at=now + timedelta(minutes=5),
        error_message="Push failed: é ü \u4e2d",
        validation={"errors": [{"itemId": "t1", "message": "0.1", "validatorName": "X"}], "warnings": []},
        changes=[], transaction_count=0,
    )


def _raw(database: Database, key: uuid.UUID) -> dict[str, Any]:
    """The row as stored, every column cast to text by the database."""
    cols = ", ".join(f"CAST({c.name} AS TEXT) AS {c.name}" for c in _TABLE.columns if c.name != "key")
    with database.unit_of_work() as session:
        key_text = session.execute(select(PushOperation.key).where(PushOperation.key == key)).scalar_one()
        assert key_text == key
        row = session.execute(
            text(f"SELECT {cols} FROM push_operations WHERE key = :key"),
            {"key": key.hex if database.dialect == "sqlite" else key},
        ).mappings().one()
        return dict(row)


def test_an_insert_stores_what_the_orm_stores(database: Database, clock: Clock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    now = clock.now()
    by_orm, by_driver = _operation(company.id, connection.id, now), _operation(company.id, connection.id, now)
    with database.unit_of_work() as session:
        session.add(by_orm)
    with database.unit_of_work() as session:
        _INSERT.execute(session, {c: getattr(by_driver, c) for c in _COLUMNS})
    assert _raw(database, by_driver.key) == _raw(database, by_orm.key)
    with database.unit_of_work() as session:
        read = session.get(PushOperation, by_driver.key)
        assert read is not None
        assert (read.validation, read.changes, read.completed_at, read.error_message) == (
            by_orm.validation, by_orm.changes, by_orm.completed_at, by_orm.error_message)


def test_a_query_reads_what_the_orm_reads(database: Database, clock: Clock) -> None:
    """Every column type of a push operation (uuid, aware and local date-times, JSON with exact
    decimals, text, integers, NULLs) reads back through the driver as the ORM reads it."""
    company, connection, _ = make_linked_feed(database, clock)
    op = _operation(company.id, connection.id, clock.now())
    op.changes = None
    with database.unit_of_work() as session:
        session.add(op)
    query = DriverQuery(select(*(getattr(PushOperation, c) for c in _COLUMNS)).where(PushOperation.key == bindparam("k")))
    with database.unit_of_work() as session:
        (row,) = query.all(session, {"k": op.key})
        assert query.first(session, {"k": uuid.uuid4()}) is None
        by_orm = session.get(PushOperation, op.key)
        assert by_orm is not None
        expected = tuple(getattr(by_orm, c) for c in _COLUMNS)
    assert row == expected
    assert [type(v) for v in row] == [type(v) for v in expected]


_CONNECTION_KEYS = [prop.key for prop in inspect(Connection).column_attrs]
_CONNECTION_ROW = DriverQuery(
    select(*(getattr(Connection, k) for k in _CONNECTION_KEYS)).where(Connection.id == bindparam("id")))


def _connection_row(session: Session, connection_id: uuid.UUID) -> dict[str, Any]:
    """A connection's row as a DriverQuery reads it, by attribute name."""
    row = _CONNECTION_ROW.first(session, {"id": connection_id})
    assert row is not None
    return dict(zip(_CONNECTION_KEYS, row, strict=True))


def test_a_loaded_instance_is_as_the_orm_loads_it(database: Database, clock: Clock) -> None:
    """Persistent, with nothing to flush; a change to it is written at commit like any loaded row's;
    the session's own copy is returned when it holds one."""
    company, connection, _ = make_linked_feed(database, clock)
    with database.unit_of_work() as session:
        values = _connection_row(session, connection.id)
        found = loaded(session, Connection, values)
        assert inspect(found).persistent and not session.dirty and not session.new
        assert found.company.name == company.name  # a relationship loads on access
        assert loaded(session, Connection, values) is found
        assert session.get(Connection, connection.id) is found
        found.status = "Unlinked"
    with database.unit_of_work() as session:
        read = session.get(Connection, connection.id)
        assert read is not None and read.status == "Unlinked"


def test_a_detached_loaded_instance_reads_its_columns_and_stays_out_of_the_session(
    database: Database, clock: Clock,
) -> None:
    _, connection, _ = make_linked_feed(database, clock)
    with database.unit_of_work() as session:
        values = _connection_row(session, connection.id)
        found = loaded(session, Connection, values, refresh=True, attach=False)
        assert inspect(found).detached and found not in session
        assert {k: getattr(found, k) for k in values} == values
        with pytest.raises(DetachedInstanceError):
            _ = found.company  # a relationship is not read
        # The session loads its own copy; one it holds is what loaded() gives.
        held = session.get(Connection, connection.id)
        assert held is not found and loaded(session, Connection, values, attach=False) is held


def test_an_update_by_key_and_a_rolled_back_one(database: Database, clock: Clock) -> None:
    _, _, (account,) = make_linked_feed(database, clock)
    newest = datetime(2026, 11, 30, 23, 59, 59, 999999)
    with database.unit_of_work() as session:
        _UPDATE.execute(session, {"id": account.id, "balance": Decimal("-0.0001"), "newest_transaction_date": newest})
    with pytest.raises(RuntimeError), database.unit_of_work() as session:
        _UPDATE.execute(session, {"id": account.id, "balance": Decimal("1"), "newest_transaction_date": None})
        raise RuntimeError("rolled back")
    with database.unit_of_work() as session:
        read = session.get(SourceAccount, account.id)
        assert read is not None
        assert (read.balance, read.newest_transaction_date) == (Decimal("-0.0001"), newest)


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(database: Database, clock: Clock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    op = _operation(company.id, connection.id, clock.now())
    with database.unit_of_work() as session:
        _INSERT.execute(session, {c: getattr(op, c) for c in _COLUMNS})
    with pytest.raises(IntegrityError), database.unit_of_work() as session:
        _INSERT.execute(session, {c: getattr(op, c) for c in _COLUMNS})
    columns = [prop.key for prop in inspect(Event).column_attrs if prop.key != "seq"]
    event = Event(id=uuid.uuid4(), event_type="x", company_id=None, company_tags={}, body={"a": Decimal("0.1")},
                  created_at=clock.now(), dispatched_at=None, correlation_id=None)
    with database.unit_of_work() as session:
        DriverStatement.insert(cast(Table, Event.__table__), columns).execute(
            session, {c: getattr(event, c) for c in columns})
    with database.unit_of_work() as session:
        stored = session.scalars(select(Event).where(Event.id == event.id)).one()
        assert stored.body == {"a": Decimal("0.1")}


def _event(clock: Clock) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "event_type": "x", "company_id": None, "company_tags": {}, "body": {"a": Decimal("0.1")},
            "created_at": clock.now(), "dispatched_at": None, "correlation_id": None}


_INSERT_EVENT = DriverStatement.insert(cast(Table, Event.__table__), [c.name for c in Event.__table__.columns if c.name != "seq"])


def _bare_count(session: Session, table: str, key: str, value: uuid.UUID, dialect: str) -> int:
    """Rows the transaction holds, asked on the driver itself (nothing sent first)."""
    driver: Any = session.connection().connection.driver_connection
    marker = "?" if dialect == "sqlite" else "%s"
    cursor = driver.cursor()
    cursor.execute(f"SELECT count(*) FROM {table} WHERE {key} = {marker}", (value.hex if dialect == "sqlite" else value,))
    (count,) = cursor.fetchone()
    cursor.close()
    return int(count)


def test_batched_writes_go_together_and_store_what_each_stores(database: Database, clock: Clock) -> None:
    """Inside ``batched`` (PostgreSQL) the writes wait for the block's end, or for a read, and then
    store, in one statement, what each stores by itself."""
    company, connection, (account,) = make_linked_feed(database, clock)
    now = clock.now()
    alone, together = _operation(company.id, connection.id, now), _operation(company.id, connection.id, now)
    with database.unit_of_work() as session:
        _INSERT.execute(session, {c: getattr(alone, c) for c in _COLUMNS})
    event = _event(clock)
    newest = datetime(2026, 11, 30, 23, 59, 59, 999999)
    queued = database.dialect == "postgresql"
    with database.unit_of_work() as session:
        with batched(session):
            _UPDATE.execute(session, {"id": account.id, "balance": Decimal("-7.0001"), "newest_transaction_date": newest})
            _INSERT_EVENT.execute(session, event)
            _INSERT.execute(session, {c: getattr(together, c) for c in _COLUMNS})
            assert _bare_count(session, "push_operations", "key", together.key, database.dialect) == (0 if queued else 1)
            # A read sends what is queued first.
            assert _OPERATION_KEYS.all(session, {"k": together.key}) == [(together.key,)]
            assert _bare_count(session, "events", "id", event["id"], database.dialect) == 1
            last = uuid.uuid4()
            _INSERT_EVENT.execute(session, {**event, "id": last})
        assert _bare_count(session, "events", "id", last, database.dialect) == 1  # the block's end sent it
    assert _raw(database, together.key) == _raw(database, alone.key)
    with database.unit_of_work() as session:
        read = session.get(SourceAccount, account.id)
        assert read is not None and (read.balance, read.newest_transaction_date) == (Decimal("-7.0001"), newest)
        stored = session.scalars(select(Event).where(Event.id == event["id"])).one()
        assert stored.body == {"a": Decimal("0.1")}


_OPERATION_KEYS = DriverQuery(select(PushOperation.key).where(PushOperation.key == bindparam("k")))


def test_a_batch_left_by_an_exception_is_committed_or_rolled_back_with_its_transaction(
    database: Database, clock: Clock,
) -> None:
    kept, dropped = _event(clock), _event(clock)
    with database.unit_of_work() as session, pytest.raises(ValueError), batched(session):
        _INSERT_EVENT.execute(session, kept)
        raise ValueError("caught; the transaction goes on")
    with pytest.raises(ValueError), database.unit_of_work() as session, batched(session):
        _INSERT_EVENT.execute(session, dropped)
        raise ValueError("rolled back")
    with database.unit_of_work() as session:
        found = set(session.scalars(select(Event.id).where(Event.id.in_([kept["id"], dropped["id"]]))))
    assert found == {kept["id"]}


def test_a_savepoint_cannot_begin_over_queued_writes(database: Database, clock: Clock) -> None:
    if database.dialect != "postgresql":
        pytest.skip("SQLite: batched writes run at once; nothing is queued")
    with pytest.raises(RuntimeError, match="savepoint"), database.unit_of_work() as session, batched(session):
        _INSERT_EVENT.execute(session, _event(clock))
        session.begin_nested()
    with database.unit_of_work() as session, batched(session):  # a savepoint before anything is queued is fine
        with session.begin_nested():
            session.execute(text("SELECT 1"))
        _INSERT_EVENT.execute(session, _event(clock))


# A write whose RETURNING gives one row per row written: an event, unless its id is taken.
_CHECKED_EVENT = DriverQuery(text(
    "INSERT INTO events (id, event_type, company_tags, body, created_at) "
    "VALUES (:id, 'checked', '{}', '{}', :created) ON CONFLICT DO NOTHING RETURNING id"
).columns(Event.id))


def _event_ids(database: Database, *ids: uuid.UUID) -> set[uuid.UUID]:
    with database.unit_of_work() as session:
        return set(session.scalars(select(Event.id).where(Event.id.in_(ids))))


def test_a_checked_write_goes_with_the_batch_and_a_surprise_undoes_it(database: Database, clock: Clock) -> None:
    """``queue_checked``: the write waits with the batch's others and goes in their statement; if it
    returns another number of rows than expected, ``NotAsExpected`` is raised and the transaction,
    rolled back, keeps none of the batch's writes."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite: batched writes run at once; nothing is queued")
    first, other = uuid.uuid4(), _event(clock)
    with database.unit_of_work() as session:
        with batched(session):
            assert queue_checked(session, _CHECKED_EVENT, {"id": first, "created": clock.now()}, 1)
            _INSERT_EVENT.execute(session, other)
            assert _bare_count(session, "events", "id", first, database.dialect) == 0  # queued
        assert _bare_count(session, "events", "id", first, database.dialect) == 1  # sent together
    assert _event_ids(database, first, other["id"]) == {first, other["id"]}
    # The id is taken now: the checked insert returns no row, and nothing of the batch is kept.
    again, late = _event(clock), uuid.uuid4()
    with pytest.raises(NotAsExpected), database.unit_of_work() as session, batched(session):
        queue_checked(session, _CHECKED_EVENT, {"id": first, "created": clock.now()}, 1)
        queue_checked(session, _CHECKED_EVENT, {"id": late, "created": clock.now()}, 1)
        _INSERT_EVENT.execute(session, again)
    assert _event_ids(database, again["id"], late) == set()
    # A read in the block sends the queue first, checked as well.
    with pytest.raises(NotAsExpected), database.unit_of_work() as session, batched(session):
        queue_checked(session, _CHECKED_EVENT, {"id": first, "created": clock.now()}, 1)
        _OPERATION_KEYS.all(session, {"k": uuid.uuid4()})
    # Outside a batch nothing is queued: the caller runs the query itself.
    with database.unit_of_work() as session:
        assert not queue_checked(session, _CHECKED_EVENT, {"id": late, "created": clock.now()}, 1)
    assert _event_ids(database, late) == set()
