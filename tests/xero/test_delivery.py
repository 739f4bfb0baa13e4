"""Pushes delivered to Xero as statements: the hub and the Xero sandbox over real HTTP, both databases.

Every request the hub sends is held against Xero's official specs (``spec_check``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction, Connection, Event, SourceAccount
from tests.fixtures.reads import events
from tests.fixtures.xero_sandbox import XeroSandboxServer
from tests.fixtures.xero_spec import SpecCheck
from tests.xero.helpers import (
    Lanes,
    XeroFeed,
    delivery_of,
    linked_feed,
    op_of,
    push,
    statements_at_xero,
    txns,
)


@pytest.fixture
def lanes(database: Database, settings: Settings, clock: FrozenClock, spec_check: SpecCheck) -> Iterator[Lanes]:
    lanes = Lanes(database, settings, clock, spec_check)
    yield lanes
    lanes.close()


@pytest.fixture
def fed(database: Database, clock: FrozenClock, settings: Settings, lanes: Lanes) -> XeroFeed:
    return linked_feed(database, clock, settings, lanes.http)


def held(database: Database, account: SourceAccount) -> list[str]:
    with database.unit_of_work() as session:
        return list(session.scalars(select(BankTransaction.transaction_id)
                                    .where(BankTransaction.source_account_id == account.id)
                                    .order_by(BankTransaction.seq)))


def test_a_push_is_pending_until_xero_has_the_statement_then_success(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes) -> None:
    op = push(client, fed, txns(1, 3))
    assert (op["status"], op["statusCode"]) == ("Pending", 202)
    assert statements_at_xero(xero, fed.tenant_id) == []
    lanes.deliver()
    done = op_of(database, op["pushOperationKey"])
    assert (done.status, done.status_code) == ("Success", 200)
    (statement,) = statements_at_xero(xero, fed.tenant_id)
    assert statement["status"] == "DELIVERED"
    assert statement["lines"] == ["t1", "t2", "t3"]
    assert statement["end"] == (Decimal("62.5"), "CREDIT")  # 100 - 3 x 12.50
    assert delivery_of(database, op["pushOperationKey"]).statement_id == statement["id"]
    successful = events(database, "bankTransactions.write.successful")
    assert [e["payload"]["id"] for e in successful] == [op["pushOperationKey"]]


def test_a_rejected_statement_fails_the_push_and_a_corrected_one_is_sent_again(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes) -> None:
    bad = txns(1, 2)
    bad[1]["balance"] = Decimal("999.00")  # the bank's balance chain is broken: Xero's end balance check fails
    op = push(client, fed, bad)
    lanes.deliver()
    failed = op_of(database, op["pushOperationKey"])
    assert failed.status == "Failed"
    (error,) = failed.validation["errors"]
    assert error["validatorName"] == "Xero:invalid-end-balance"
    assert "Xero rejected the statement" in error["message"]
    assert "correct the transactions" in (failed.error_message or "")
    assert [e["payload"]["id"] for e in events(database, "bankTransactions.write.unsuccessful")] == [op["pushOperationKey"]]
    # Nothing of the rejected push is held: the same ids go again once corrected.
    assert held(database, fed.account) == []
    with database.unit_of_work() as session:
        account = session.get(SourceAccount, fed.account.id)
        assert account is not None and account.newest_transaction_date is None
    again = push(client, fed, txns(1, 2))
    assert again["validation"]["warnings"] == []
    lanes.deliver()
    assert op_of(database, again["pushOperationKey"]).status == "Success"
    assert [s["lines"] for s in statements_at_xero(xero, fed.tenant_id)] == [["t1", "t2"]]


def test_a_statement_xero_rejects_later_fails_the_push_with_xeros_errors(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes) -> None:
    xero.fault("reject-statement", 1)
    op = push(client, fed, txns(1, 1))
    lanes.deliver()
    failed = op_of(database, op["pushOperationKey"])
    assert failed.status == "Failed"
    assert failed.validation["errors"][0]["validatorName"].startswith("Xero:")
    assert held(database, fed.account) == []


def test_429_waits_for_retry_after_on_the_clock_without_calling_again(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes,
        clock: FrozenClock) -> None:
    xero.fault("429", 1, retry_after=45, tenant_id=fed.tenant_id)
    op = push(client, fed, txns(1, 1))
    before = len(xero.calls(fed.tenant_id))
    statements = lanes.worker.lanes[0]
    statements.run_once()
    assert [c["status"] for c in xero.calls(fed.tenant_id)[before:]] == [429]
    due = delivery_of(database, op["pushOperationKey"]).next_attempt_at
    assert due.replace(tzinfo=clock.now().tzinfo) == clock.now() + timedelta(seconds=45)
    clock.advance(timedelta(seconds=44))
    for _ in range(5):
        assert statements.run_once() == 0  # not due yet: no call, no spinning
    assert len(xero.calls(fed.tenant_id)) == before + 1
    clock.advance(timedelta(seconds=2))
    lanes.deliver()
    assert op_of(database, op["pushOperationKey"]).status == "Success"


def test_500_is_retried_with_backoff(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes) -> None:
    xero.fault("500", 2, tenant_id=fed.tenant_id)
    op = push(client, fed, txns(1, 2))
    lanes.deliver()
    assert op_of(database, op["pushOperationKey"]).status == "Success"
    assert [c["status"] for c in xero.calls(fed.tenant_id)].count(500) == 2
    assert len(statements_at_xero(xero, fed.tenant_id)) == 1


def test_a_retry_after_a_lost_answer_never_makes_a_second_statement(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes) -> None:
    op = push(client, fed, txns(1, 2))
    lanes.worker.lanes[0].run_once()  # POST /Statements accepted...
    # ...but the worker died before it could record Xero's answer: the row is queued again.
    with database.unit_of_work() as session:
        from bankfeeds.models import StatementDelivery

        row = session.get(StatementDelivery, delivery_of(database, op["pushOperationKey"]).push_operation_key)
        assert row is not None and row.status == "sent"
        row.status, row.statement_id = "queued", None
    lanes.deliver()
    assert op_of(database, op["pushOperationKey"]).status == "Success"
    assert len(statements_at_xero(xero, fed.tenant_id)) == 1


def test_a_push_timed_out_still_lands_and_ends_success(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes,
        clock: FrozenClock, settings: Settings) -> None:
    from bankfeeds.push_operations import service as push_operations

    xero.fault("500", 1, tenant_id=fed.tenant_id)
    op = push(client, fed, txns(1, 1), timeoutInMinutes=1)
    lanes.worker.lanes[0].run_once()
    clock.advance(timedelta(minutes=2))
    with database.unit_of_work() as session:
        assert push_operations.expire_due(session, clock, settings) == 1
    assert op_of(database, op["pushOperationKey"]).status == "TimedOut"
    lanes.deliver()
    assert op_of(database, op["pushOperationKey"]).status == "Success"


def test_repeats_only_need_no_statement(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes) -> None:
    push(client, fed, txns(1, 2))
    lanes.deliver()
    again = push(client, fed, txns(1, 2))
    assert again["status"] == "Success"
    assert len(again["validation"]["warnings"]) == 2
    assert len(statements_at_xero(xero, fed.tenant_id)) == 1


def test_tokens_expire_and_rotate_and_delivery_goes_on(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes,
        clock: FrozenClock) -> None:
    push(client, fed, txns(1, 1))
    lanes.deliver()
    clock.advance(timedelta(minutes=45))  # the access token (30 min) is long gone
    op = push(client, fed, txns(2, 1, opening=Decimal("87.50"), day=21))
    lanes.deliver()
    assert op_of(database, op["pushOperationKey"]).status == "Success"
    assert len(statements_at_xero(xero, fed.tenant_id)) == 2


def test_invalid_grant_deauthorizes_the_connection_and_stops_delivery(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes,
        clock: FrozenClock, settings: Settings) -> None:
    from bankfeeds.platforms.gbol import tokens
    from bankfeeds.platforms.gbol.xero_api import XeroApi

    op = push(client, fed, txns(1, 1))
    # The SMB disconnects the app in Xero: the refresh token is revoked there.
    with database.unit_of_work() as session:
        from bankfeeds.kit import crypto
        from bankfeeds.models import XeroGrant

        grant = session.scalars(select(XeroGrant).where(XeroGrant.connection_id == fed.connection.id)).one()
        refresh = crypto.decrypt(settings, grant.refresh_token_encrypted, purpose=tokens.REFRESH_PURPOSE)
    XeroApi(settings, database, clock, http=lanes.http).revoke(refresh)
    clock.advance(timedelta(minutes=31))
    lanes.deliver(rounds=3)
    with database.unit_of_work() as session:
        connection = session.get(Connection, fed.connection.id)
        assert connection is not None and connection.status == "Deauthorized"
    assert len(events(database, "connection.disconnected")) == 1
    assert op_of(database, op["pushOperationKey"]).status == "Pending"
    assert statements_at_xero(xero, fed.tenant_id) == []


def test_a_feed_removed_in_xero_disconnects_its_account_and_the_connection(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes,
        settings: Settings, clock: FrozenClock) -> None:
    from bankfeeds.platforms.gbol import tokens
    from bankfeeds.platforms.gbol.xero_api import XeroApi

    assert lanes.check_feeds() == 1  # checked: the feed is there
    api = XeroApi(settings, database, clock, http=lanes.http)
    access = tokens.access_for(database, clock, settings, api, fed.connection.id)
    api.delete_feed_connections(access, [fed.feed_id], idempotency_key="remove-1")  # as "Remove bank feed" in Xero
    assert lanes.check_feeds() == 0  # once a day
    clock.advance(timedelta(days=1, minutes=1))
    assert lanes.check_feeds() == 1
    with database.unit_of_work() as session:
        account = session.get(SourceAccount, fed.account.id)
        connection = session.get(Connection, fed.connection.id)
        assert account is not None and account.status == "disconnected"
        assert connection is not None and connection.status == "Unlinked"
        assert session.scalar(select(func.count()).select_from(Event)
                              .where(Event.event_type == "bankFeeds.sourceAccount.disconnected")) == 1


def test_a_mapped_feed_is_confirmed_by_the_worker_and_its_account_turns_connected(
        database: Database, xero: XeroSandboxServer, lanes: Lanes, settings: Settings, clock: FrozenClock) -> None:
    from tests.xero.helpers import feed, link

    company, connection, tenant = link(database, clock, settings, lanes.http)
    waiting = feed(database, clock, settings, lanes.http, company, connection, tenant, connect=False)
    assert events(database, "bankFeeds.sourceAccount.connected") == []
    lanes.confirm_feeds()
    with database.unit_of_work() as session:
        account = session.get(SourceAccount, waiting.account.id)
        assert account is not None and account.status == "connected"
        assert account.target_account_id  # the Xero bank account the feed goes to
    assert len(events(database, "bankFeeds.sourceAccount.connected")) == 1


def test_a_push_whose_feed_was_disconnected_before_delivery_fails_with_what_to_do(
        client: TestClient, database: Database, xero: XeroSandboxServer, fed: XeroFeed, lanes: Lanes) -> None:
    op = push(client, fed, txns(1, 1))
    with database.unit_of_work() as session:
        account = session.get(SourceAccount, fed.account.id)
        assert account is not None
        account.feed_connection_id, account.status = None, "disconnected"
    lanes.deliver(rounds=2)
    failed = op_of(database, op["pushOperationKey"])
    assert failed.status == "Failed"
    assert "connect it again" in failed.validation["errors"][0]["message"]
    assert statements_at_xero(xero, fed.tenant_id) == []
