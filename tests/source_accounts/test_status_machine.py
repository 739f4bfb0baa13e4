"""mark_connected / mark_disconnected: transitions, webhook events, and the connection's Unlinked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.errors import NotFound
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection, SourceAccount
from bankfeeds.source_accounts import service
from tests.fixtures.factories import make_source_account
from tests.fixtures.reads import events
from tests.source_accounts.helpers import connection_status, feed, stored

CONNECTED = "bankFeeds.sourceAccount.connected"
DISCONNECTED = "bankFeeds.sourceAccount.disconnected"


def run(database: Database, connection: Connection, account_id: str,
        action: Callable[[Session, Company, Connection, SourceAccount], Any]) -> None:
    """Load the rows in one unit of work and apply ``action`` to them, as a caller would."""
    with database.unit_of_work() as session:
        conn = session.get(Connection, connection.id)
        assert conn is not None
        account = service.get_account(session, conn, account_id, for_update=True)
        action(session, conn.company, conn, account)


def test_mark_connected_records_one_event(database: Database, clock: FrozenClock, settings: Settings) -> None:
    company, connection = feed(database, clock)
    make_source_account(database, clock, connection, "acc-1", status="pending", balance=Decimal("-0.0001"))
    clock.advance(timedelta(hours=1))

    def connect(session: Session, c: Company, n: Connection, a: SourceAccount) -> None:
        service.mark_connected(session, clock, settings, c, n, a, feed_start_date=date(2026, 11, 20),
                               target_account_id="qbo-35", target_account_name="Checking (QBO)")

    run(database, connection, "acc-1", connect)
    row = stored(database, connection, "acc-1")
    assert row is not None and row.status == "connected" and row.feed_start_date == date(2026, 11, 20)
    assert row.target_account_id == "qbo-35" and row.target_account_name == "Checking (QBO)"
    assert row.connected_at == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    sent = events(database, CONNECTED)
    assert len(sent) == 1
    payload = sent[0]["payload"]
    assert payload["companyId"] == str(company.id) and payload["connectionId"] == str(connection.id)
    assert payload["referenceCompany"]["id"] == str(company.id) and payload["referenceCompany"]["name"] == "Acme Ltd"
    account = payload["sourceAccount"]
    assert account["id"] == "acc-1" and account["status"] == "connected" and account["feedStartDate"] == "2026-11-20"
    assert account["balance"] == Decimal("-0.0001") and "accountInfo" in account  # v2 shape, exact money
    assert sent[0]["eventType"] == CONNECTED and sent[0]["generatedDate"] == "2026-11-24T16:00:00Z"
    # Idempotent: connecting again records nothing, but new details are kept.
    run(database, connection, "acc-1", lambda s, c, n, a: service.mark_connected(
        s, clock, settings, c, n, a, target_account_id="qbo-36"))
    assert len(events(database, CONNECTED)) == 1
    row = stored(database, connection, "acc-1")
    assert row is not None and row.target_account_id == "qbo-36" and row.feed_start_date == date(2026, 11, 20)
    # The connection is the IDX side's business: still PendingAuth.
    assert connection_status(database, connection) == "PendingAuth"


def test_mark_connected_defaults_the_feed_start_to_today(
    database: Database, clock: FrozenClock, settings: Settings
) -> None:
    _, connection = feed(database, clock, platform="gbol", status="Linked")
    make_source_account(database, clock, connection, "acc-1", status="pending", shape_version=1)
    run(database, connection, "acc-1", lambda s, c, n, a: service.mark_connected(s, clock, settings, c, n, a))
    row = stored(database, connection, "acc-1")
    assert row is not None and row.feed_start_date == date(2026, 11, 24)
    account = events(database, CONNECTED)[0]["payload"]["sourceAccount"]
    assert "accountInfo" not in account and account["accountType"] == "Debit"  # v1 shape


def test_mark_disconnected_unlinks_quickbooks_when_all_are_disconnected(
    database: Database, clock: FrozenClock, settings: Settings
) -> None:
    _, connection = feed(database, clock, status="Linked")
    for account_id in ("a", "b"):
        make_source_account(database, clock, connection, account_id)
    run(database, connection, "a", lambda s, c, n, a: service.mark_disconnected(s, clock, settings, c, n, a))
    assert connection_status(database, connection) == "Linked"
    assert [e["payload"]["sourceAccount"]["id"] for e in events(database, DISCONNECTED)] == ["a"]
    assert events(database, DISCONNECTED)[0]["payload"]["sourceAccount"]["status"] == "disconnected"
    run(database, connection, "b", lambda s, c, n, a: service.mark_disconnected(s, clock, settings, c, n, a))
    assert connection_status(database, connection) == "Unlinked"
    assert len(events(database, DISCONNECTED)) == 2
    unlinked = events(database, "connection.disconnected")
    assert len(unlinked) == 1 and unlinked[0]["payload"]["connection"]["status"] == "Unlinked"
    # Idempotent: no more events.
    run(database, connection, "b", lambda s, c, n, a: service.mark_disconnected(s, clock, settings, c, n, a))
    assert len(events(database, DISCONNECTED)) == 2 and len(events(database, "connection.disconnected")) == 1


@pytest.mark.parametrize(("platform", "status"), [("hcws", "PendingAuth"), ("hcws", "Deauthorized"),
                                                  ("gbol", "Linked")])
def test_connection_left_alone_unless_a_linked_quickbooks_one(
    database: Database, clock: FrozenClock, settings: Settings, platform: str, status: str
) -> None:
    _, connection = feed(database, clock, platform=platform, status=status)
    make_source_account(database, clock, connection, "only")
    run(database, connection, "only", lambda s, c, n, a: service.mark_disconnected(s, clock, settings, c, n, a))
    assert len(events(database, DISCONNECTED)) == 1
    assert connection_status(database, connection) == status
    assert events(database, "connection.disconnected") == []


def test_a_rolled_back_transition_leaves_no_event(database: Database, clock: FrozenClock, settings: Settings) -> None:
    _, connection = feed(database, clock)
    make_source_account(database, clock, connection, "acc-1", status="pending")

    def connect_then_fail(session: Session, c: Company, n: Connection, a: SourceAccount) -> None:
        service.mark_connected(session, clock, settings, c, n, a)
        raise RuntimeError("caller failed later")

    with pytest.raises(RuntimeError):
        run(database, connection, "acc-1", connect_then_fail)
    row = stored(database, connection, "acc-1")
    assert row is not None and row.status == "pending"
    assert events(database, CONNECTED) == []


def test_get_account_not_found(database: Database, clock: FrozenClock) -> None:
    _, connection = feed(database, clock)
    with database.unit_of_work() as session, pytest.raises(NotFound, match="'nope'"):
        service.get_account(session, connection, "nope")


def test_to_wire_keeps_the_shapes_apart(database: Database, clock: FrozenClock) -> None:
    _, connection = feed(database, clock)
    v1 = make_source_account(database, clock, connection, "v1", shape_version=1, account_type=None, currency="USD")
    v2 = make_source_account(database, clock, connection, "v2", shape_version=2, feed_start_date=date(2026, 1, 2))
    one, two = service.to_wire(v1), service.to_wire(v2)
    assert one["accountType"] is None and "accountInfo" not in one and "routingInfo" not in one
    assert two["accountInfo"] is None and two["feedStartDate"] == "2026-01-02" and two["status"] == "connected"
