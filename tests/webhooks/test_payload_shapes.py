"""The JSON of every event type, byte for byte as stored and delivered.

Each case makes one real transition through the services and reads the event's JSON text the way
the delivery lane reads it (``CAST(body AS TEXT)``: what is signed and sent). Only the random ids
are masked; key names and order, nulls, Decimals and date-times must match the shapes below, which
are the shapes bankfeeds has always sent. A change here is a change to what every consumer
receives: make it on purpose, never as a side effect. The payload models ``events.record`` takes
(``webhooks/schemas.py``) are held against the same JSON: their keys, in order, at every level
they type.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Text, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection, Event, PushOperation, SourceAccount
from bankfeeds.webhooks import events
from bankfeeds.webhooks.events import EVENT_TYPES
from tests.fixtures.factories import make_company, make_source_account
from tests.webhooks.scenes import (
    Act,
    Scene,
    Setup,
    account_connected,
    account_disconnected,
    company_created,
    company_deleted,
    connection_created,
    connection_deleted,
    connection_failed,
    rows,
    scene,
    to_status,
)
from tests.webhooks.scenes import push as push_after


def toft_stores(database: Database, clock: FrozenClock) -> Company:
    return make_company(database, clock, "Toft stores", description="Requested early access.",
                        tags={"region": "uk", "tier": "gold"}, last_sync=datetime(2026, 11, 20, 9, 30, tzinfo=UTC))


def shaped_account(database: Database, clock: FrozenClock, connection: Connection, account_id: str, status: str,
                   shape: int) -> SourceAccount:
    """A source account with every field its shape (Codat's v1 or v2) carries."""
    return make_source_account(
        database, clock, connection, account_id, status=status, shape_version=shape,
        balance=Decimal("1234.50"), currency="GBP", sort_code="040004",
        **({"routing_info": {"bankCode": "021000021", "type": "bankcode"},
            "account_info": {"description": "Main account", "nickname": "Main"}} if shape == 2 else {}),
    )


def _scene(status: str | None = None, *accounts: tuple[str, str, int]) -> Setup:
    return scene(status, *accounts, company=toft_stores, account=shaped_account)


def failed_then_connected(s: Session, clock: FrozenClock, settings: Settings, made: Scene) -> None:
    """A link that failed once, then succeeded: the connection carries its resolved error."""
    company, connection = rows(s, made)
    connections.fail_link(s, clock, settings, company, connection)
    clock.advance(timedelta(seconds=90))
    connections.set_status(s, clock, settings, company, connection, "Linked")


def push(outcome: str) -> Act:
    return push_after(outcome, taking=timedelta(seconds=2))


HCWS = ('"integrationId":"6b113e06-e818-45d7-977b-8e6bb3d01269","integrationKey":"hcws",'
        '"sourceId":"1c2a8a7e-1f60-4a53-a0d3-3a6f0b6f2c11","sourceType":"BankFeed",'
        '"platformName":"QuickBooks Online Bank Feeds",'
        '"linkUrl":"http://testserver/link/companies/<company>/connections/<connection>/start"')
REF = ('"referenceCompany":{"id":"<company>","name":"Toft stores","description":"Requested early access.",'
       '"links":{"portal":"http://testserver/companies/<company>"},"tags":{"region":"uk","tier":"gold"}}')

# case -> (event type, setup, act)
CASES: dict[str, tuple[str, Setup, Act]] = {
    "company.created": ("company.created", _scene(), company_created),
    "company.deleted": ("company.deleted", _scene(), company_deleted),
    "connection.created": ("connection.created", _scene(), connection_created),
    "connection.connected": ("connection.connected", _scene("PendingAuth"), to_status("Linked")),
    "connection.connected after a failed link": (
        "connection.connected", _scene("PendingAuth"), failed_then_connected),
    "connection.failed": ("connection.failed", _scene("PendingAuth"), connection_failed),
    "connection.disconnected": ("connection.disconnected", _scene("Linked"), to_status("Unlinked")),
    "connection.deauthorized": ("connection.disconnected", _scene("Linked"), to_status("Deauthorized")),
    "connection.reconnected": ("connection.reconnected", _scene("Unlinked"), to_status("Linked")),
    "connection.deleted": ("connection.deleted", _scene("Linked"), connection_deleted),
    "bankFeeds.sourceAccount.connected v2": (
        "bankFeeds.sourceAccount.connected", _scene("Linked", ("acc-1", "pending", 2)), account_connected),
    "bankFeeds.sourceAccount.connected v1": (
        "bankFeeds.sourceAccount.connected", _scene("Linked", ("acc-1", "connecting", 1)), account_connected),
    "bankFeeds.sourceAccount.disconnected v1": (
        "bankFeeds.sourceAccount.disconnected", _scene("Linked", ("acc-1", "connected", 1), ("acc-2", "connected", 2)),
        account_disconnected),
    "bankFeeds.sourceAccount.disconnected v2, the last one": (
        "bankFeeds.sourceAccount.disconnected", _scene("Linked", ("acc-1", "connected", 2)), account_disconnected),
    "bankTransactions.write.successful": (
        "bankTransactions.write.successful", _scene("Linked", ("acc-1", "connected", 2)), push("success")),
    "bankTransactions.write.unsuccessful": (
        "bankTransactions.write.unsuccessful", _scene("Linked", ("acc-1", "connected", 2)), push("failure")),
    "bankTransactions.write.unsuccessful, timed out": (
        "bankTransactions.write.unsuccessful", _scene("Linked", ("acc-1", "connected", 2)), push("timeout")),
}


# case -> the event's JSON text, ids masked
EXPECTED: dict[str, str] = {
    "company.created":
        '{"id":"<event>","eventType":"company.created","generatedDate":"2026-11-24T15:00:00Z","payload":{"id":"<company>","name":"New Co","description":null,"platform":"","redirect":"http://testserver/link/company/<company>","lastSync":null,"created":"2026-11-24T15:00:00Z","createdByUserName":"tests","products":["bank-feeds"],"tags":{"region":"fr"},"ownerUserIds":[],"referenceSubsidiaryCompanies":[]}}',
    "company.deleted":
        '{"id":"<event>","eventType":"company.deleted","generatedDate":"2026-11-24T15:00:00Z","payload":{"id":"<company>","name":"Toft stores","description":"Requested early access.","platform":"","redirect":"http://testserver/link/company/<company>","lastSync":"2026-11-20T09:30:00Z","created":"2026-11-24T15:00:00Z","createdByUserName":null,"products":["bank-feeds"],"tags":{"region":"uk","tier":"gold"},"ownerUserIds":[],"referenceSubsidiaryCompanies":[]}}',
    "connection.created":
        '{"id":"<event>","eventType":"connection.created","generatedDate":"2026-11-24T15:00:00Z","payload":{' + REF + ',"connection":{"id":"<connection>",' + HCWS + ',"status":"PendingAuth","lastSync":null,"created":"2026-11-24T15:00:00Z","dataConnectionErrors":[],"connectionInfo":null}}}',
    "connection.connected":
        '{"id":"<event>","eventType":"connection.connected","generatedDate":"2026-11-24T15:00:00Z","payload":{' + REF + ',"connection":{"id":"<connection>",' + HCWS + ',"status":"Linked","lastSync":null,"created":"2026-11-24T15:00:00Z","dataConnectionErrors":[],"connectionInfo":null}}}',
    "connection.connected after a failed link":
        '{"id":"<event>","eventType":"connection.connected","generatedDate":"2026-11-24T15:01:30Z","payload":{' + REF + ',"connection":{"id":"<connection>",' + HCWS + ',"status":"Linked","lastSync":null,"created":"2026-11-24T15:00:00Z","dataConnectionErrors":[{"statusCode":"403","statusText":"User cancelled linking","errorMessage":"User cancelled","erroredOnUtc":"2026-11-24T15:00:00Z","status":"Resolved","resolvedOnUtc":"2026-11-24T15:01:30Z"}],"connectionInfo":null}}}',
    "connection.failed":
        '{"id":"<event>","eventType":"connection.failed","generatedDate":"2026-11-24T15:00:00Z","payload":{' + REF + ',"connection":{"id":"<connection>",' + HCWS + ',"status":"PendingAuth","lastSync":null,"created":"2026-11-24T15:00:00Z","dataConnectionErrors":[{"statusCode":"403","statusText":"User denied access","errorMessage":"User cancelled","erroredOnUtc":"2026-11-24T15:00:00Z","status":"Active"}],"connectionInfo":null}}}',
    "connection.disconnected":
        '{"id":"<event>","eventType":"connection.disconnected","generatedDate":"2026-11-24T15:00:00Z","payload":{' + REF + ',"connection":{"id":"<connection>",' + HCWS + ',"status":"Unlinked","lastSync":null,"created":"2026-11-24T15:00:00Z","dataConnectionErrors":[],"connectionInfo":null}}}',
    "connection.deauthorized":
        '{"id":"<event>","eventType":"connection.disconnected","generatedDate":"2026-11-24T15:00:00Z","payload":{' + REF + ',"connection":{"id":"<connection>",' + HCWS + ',"status":"Deauthorized","lastSync":null,"created":"2026-11-24T15:00:00Z","dataConnectionErrors":[],"connectionInfo":null}}}',
    "connection.reconnected":
        '{"id":"<event>","eventType":"connection.reconnected","generatedDate":"2026-11-24T15:00:00Z","payload":{' + REF + ',"connection":{"id":"<connection>",' + HCWS + ',"status":"Linked","lastSync":null,"created":"2026-11-24T15:00:00Z","dataConnectionErrors":[],"connectionInfo":null}}}',
    "connection.deleted":
        '{"id":"<event>","eventType":"connection.deleted","generatedDate":"2026-11-24T15:00:00Z","payload":{' + REF + ',"connection":{"id":"<connection>",' + HCWS + ',"status":"Linked","lastSync":null,"created":"2026-11-24T15:00:00Z","dataConnectionErrors":[],"connectionInfo":null}}}',
    "bankFeeds.sourceAccount.connected v2":
        '{"id":"<event>","eventType":"bankFeeds.sourceAccount.connected","generatedDate":"2026-11-24T15:00:00Z","payload":{' + REF + ',"companyId":"<company>","connectionId":"<connection>","sourceAccount":{"id":"acc-1","accountName":"Account acc-1","accountType":"checking","accountNumber":"12345678","sortCode":"040004","routingInfo":{"bankCode":"021000021","type":"bankcode"},"currency":"GBP","balance":1234.50,"accountInfo":{"description":"Main account","nickname":"Main"},"modifiedDate":"2026-11-24T15:00:00Z","status":"connected","feedStartDate":"2026-11-24"}}}',
    "bankFeeds.sourceAccount.connected v1":
        '{"id":"<event>","eventType":"bankFeeds.sourceAccount.connected","generatedDate":"2026-11-24T15:00:00Z","payload":{' + REF + ',"companyId":"<company>","connectionId":"<connection>","sourceAccount":{"id":"acc-1","accountName":"Account acc-1","accountType":"Debit","accountNumber":"12345678","sortCode":"040004","currency":"GBP","balance":1234.50,"modifiedDate":"2026-11-24T15:00:00Z","status":"connected","feedStartDate":"2026-11-24"}}}',
    "bankFeeds.sourceAccount.disconnected v1":
        '{"id":"<event>","eventType":"bankFeeds.sourceAccount.disconnected","generatedDate":"2026-11-24T15:00:00Z","payload":{' + REF + ',"companyId":"<company>","connectionId":"<connection>","sourceAccount":{"id":"acc-1","accountName":"Account acc-1","accountType":"Debit","accountNumber":"12345678","sortCode":"040004","currency":"GBP","balance":1234.50,"modifiedDate":"2026-11-24T15:00:00Z","status":"disconnected","feedStartDate":null}}}',
    "bankFeeds.sourceAccount.disconnected v2, the last one":
        '{"id":"<event>","eventType":"bankFeeds.sourceAccount.disconnected","generatedDate":"2026-11-24T15:00:00Z","payload":{' + REF + ',"companyId":"<company>","connectionId":"<connection>","sourceAccount":{"id":"acc-1","accountName":"Account acc-1","accountType":"checking","accountNumber":"12345678","sortCode":"040004","routingInfo":{"bankCode":"021000021","type":"bankcode"},"currency":"GBP","balance":1234.50,"accountInfo":{"description":"Main account","nickname":"Main"},"modifiedDate":"2026-11-24T15:00:00Z","status":"disconnected","feedStartDate":null}}}',
    "bankTransactions.write.successful":
        '{"id":"<event>","eventType":"bankTransactions.write.successful","generatedDate":"2026-11-24T15:00:02Z","payload":{"id":"<push>","type":"Create",' + REF + ',"connectionId":"<connection>","requestedOnDate":"2026-11-24T15:00:00Z","completedOnDate":"2026-11-24T15:00:02Z","status":"Success","record":{"id":"acc-1"},"attachmentId":null}}',
    "bankTransactions.write.unsuccessful":
        '{"id":"<event>","eventType":"bankTransactions.write.unsuccessful","generatedDate":"2026-11-24T15:00:02Z","payload":{"id":"<push>","type":"Create",' + REF + ',"connectionId":"<connection>","requestedOnDate":"2026-11-24T15:00:00Z","completedOnDate":"2026-11-24T15:00:02Z","status":"Failed","record":null,"attachmentId":null}}',
    "bankTransactions.write.unsuccessful, timed out":
        '{"id":"<event>","eventType":"bankTransactions.write.unsuccessful","generatedDate":"2026-11-24T15:00:02Z","payload":{"id":"<push>","type":"Create",' + REF + ',"connectionId":"<connection>","requestedOnDate":"2026-11-24T15:00:00Z","completedOnDate":"2026-11-24T15:00:02Z","status":"TimedOut","record":null,"attachmentId":null}}',
}


@pytest.mark.parametrize("case", CASES)
def test_each_event_type_keeps_its_json(
    case: str, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    event_type, setup, act = CASES[case]
    made = setup(database, clock)
    with database.unit_of_work() as s:
        act(s, clock, settings, made)
    with database.unit_of_work() as s:
        rows = s.execute(select(Event.id, Event.event_type, sql_cast(Event.body, Text)).order_by(Event.seq)).all()
    [(event_id, stored_type, text)] = [row for row in rows if row[1] == event_type]
    assert stored_type == event_type
    masks = {str(event_id): "<event>"}
    if made.company is not None:
        masks[str(made.company.id)] = "<company>"
    if made.connection is not None:
        masks[str(made.connection.id)] = "<connection>"
    with database.unit_of_work() as s:
        masks.update({str(key): "<push>" for key in s.scalars(select(PushOperation.key))})
    for raw, mask in masks.items():
        text = text.replace(raw, mask)
    assert text == EXPECTED[case]
    _assert_keys(json.loads(text)["payload"], payload_models()[event_type], "payload")


def test_every_event_type_has_a_shape() -> None:
    assert {event_type for event_type, *_ in CASES.values()} == set(EVENT_TYPES)
    assert set(EXPECTED) == set(CASES)


def payload_models() -> dict[str, type]:
    """Each event type's payload model, as the overloads of ``events.record`` declare it."""
    models: dict[str, type] = {}
    for overload in typing.get_overloads(events.record):
        hints = typing.get_type_hints(overload)
        for event_type in typing.get_args(hints["event_type"]):
            assert event_type not in models, f"{event_type} has two payload models"
            models[event_type] = hints["payload"]
    return models


def _assert_keys(value: Any, model: Any, where: str) -> None:
    """``value`` has the keys of the TypedDict ``model``, in order, and so on down its typed fields."""
    if typing.get_origin(model) in (typing.Union, types.UnionType):
        [model] = [m for m in typing.get_args(model) if m is not type(None)] if value is not None else [type(None)]
    if not typing.is_typeddict(model):
        return
    hints = typing.get_type_hints(model)
    assert list(value) == list(hints), where
    for key, hint in hints.items():
        _assert_keys(value[key], hint, f"{where}.{key}")


def test_every_event_type_has_one_payload_model() -> None:
    models = payload_models()
    assert set(models) == set(EVENT_TYPES)
    assert all(typing.is_typeddict(model) for model in models.values())
