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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Text, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from bankfeeds.companies import service as companies
from bankfeeds.companies.schemas import CompanyRequestBody
from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.connections.schemas import ConnectionCreate
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection, Event, PushOperation, SourceAccount
from bankfeeds.push_operations import service as push_operations
from bankfeeds.source_accounts import service as source_accounts
from bankfeeds.webhooks import events
from bankfeeds.webhooks.events import EVENT_TYPES
from tests.fixtures.factories import make_company, make_connection, make_source_account


@dataclass
class Scene:
    company: Company | None = None
    connection: Connection | None = None
    accounts: list[SourceAccount] = field(default_factory=list)


def _company(database: Database, clock: FrozenClock) -> Company:
    return make_company(database, clock, "Toft stores", description="Requested early access.",
                        tags={"region": "uk", "tier": "gold"}, last_sync=datetime(2026, 11, 20, 9, 30, tzinfo=UTC))


def _scene(status: str | None = None, *accounts: tuple[str, str, int]) -> Callable[[Database, FrozenClock], Scene]:
    def setup(database: Database, clock: FrozenClock) -> Scene:
        company = _company(database, clock)
        if status is None:
            return Scene(company)
        connection = make_connection(database, clock, company, "hcws", status=status)
        made = [
            make_source_account(
                database, clock, connection, account_id, status=account_status, shape_version=shape,
                balance=Decimal("1234.50"), currency="GBP", sort_code="040004",
                **({"routing_info": {"bankCode": "021000021", "type": "bankcode"},
                    "account_info": {"description": "Main account", "nickname": "Main"}} if shape == 2 else {}),
            )
            for account_id, account_status, shape in accounts
        ]
        return Scene(company, connection, made)

    return setup


def _rows(s: Session, scene: Scene) -> tuple[Company, Connection]:
    assert scene.company is not None and scene.connection is not None
    company = companies.get(s, scene.company.id, for_update=True)
    return company, connections.get(s, company, scene.connection.id, for_update=True)


def _account(s: Session, scene: Scene, i: int = 0) -> SourceAccount:
    account = s.get(SourceAccount, scene.accounts[i].id)
    assert account is not None
    return account


Act = Callable[[Session, FrozenClock, Settings, Scene], None]


def company_created(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    company, _ = companies.create(s, clock, settings, CompanyRequestBody(
        name="New Co", tags={"region": "fr"}), created_by="tests")
    scene.company = company


def company_deleted(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    assert scene.company is not None
    companies.delete(s, clock, settings, companies.get(s, scene.company.id, for_update=True))


def connection_created(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    assert scene.company is not None
    company = companies.get(s, scene.company.id, for_update=True)
    scene.connection, _ = connections.create(s, clock, settings, company, ConnectionCreate(platform_key="hcws"))


def to_status(status: str) -> Act:
    def act(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
        company, connection = _rows(s, scene)
        connections.set_status(s, clock, settings, company, connection, status)

    return act


def connection_failed(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    connections.fail_link(s, clock, settings, *_rows(s, scene), status_text="User denied access")


def failed_then_connected(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    """A link that failed once, then succeeded: the connection carries its resolved error."""
    company, connection = _rows(s, scene)
    connections.fail_link(s, clock, settings, company, connection)
    clock.advance(timedelta(seconds=90))
    connections.set_status(s, clock, settings, company, connection, "Linked")


def connection_deleted(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    connections.delete(s, clock, settings, *_rows(s, scene))


def account_connected(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    company, connection = _rows(s, scene)
    source_accounts.mark_connected(s, clock, settings, company, connection, _account(s, scene))


def account_disconnected(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    company, connection = _rows(s, scene)
    source_accounts.mark_disconnected(s, clock, settings, company, connection, _account(s, scene))


def push(outcome: str) -> Act:
    def act(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
        company, connection = _rows(s, scene)
        op = push_operations.start(s, clock, company_id=company.id, connection_id=connection.id,
                                   source_account_id="acc-1", timeout_in_minutes=None, transaction_count=1)
        clock.advance(timedelta(seconds=2))
        if outcome == "success":
            push_operations.succeed(s, clock, settings, company, op, "acc-1")
        elif outcome == "failure":
            push_operations.fail(s, clock, settings, company, op, "The platform refused it.")
        else:
            push_operations.time_out(s, clock, settings, company, op)
        push_operations.save(s, op)  # as a push writes its operation: once, with its outcome

    return act


HCWS = ('"integrationId":"6b113e06-e818-45d7-977b-8e6bb3d01269","integrationKey":"hcws",'
        '"sourceId":"1c2a8a7e-1f60-4a53-a0d3-3a6f0b6f2c11","sourceType":"BankFeed",'
        '"platformName":"QuickBooks Online Bank Feeds",'
        '"linkUrl":"http://testserver/link/companies/<company>/connections/<connection>/start"')
REF = ('"referenceCompany":{"id":"<company>","name":"Toft stores","description":"Requested early access.",'
       '"links":{"portal":"http://testserver/companies/<company>"},"tags":{"region":"uk","tier":"gold"}}')

# case -> (event type, setup, act)
CASES: dict[str, tuple[str, Callable[[Database, FrozenClock], Scene], Act]] = {
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
    scene = setup(database, clock)
    with database.unit_of_work() as s:
        act(s, clock, settings, scene)
    with database.unit_of_work() as s:
        rows = s.execute(select(Event.id, Event.event_type, sql_cast(Event.body, Text)).order_by(Event.seq)).all()
    [(event_id, stored_type, text)] = [row for row in rows if row[1] == event_type]
    assert stored_type == event_type
    masks = {str(event_id): "<event>"}
    if scene.company is not None:
        masks[str(scene.company.id)] = "<company>"
    if scene.connection is not None:
        masks[str(scene.connection.id)] = "<connection>"
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
