"""Each event type fires once per real transition, and never when the change rolls back.

Transitions run through the services the endpoints, IDX API and tasks call (and, in the last
test, through the HTTP API), each in a unit of work; a real receiver verifies every delivery
with the svix library.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bankfeeds.companies import service as companies
from bankfeeds.companies.schemas import CompanyRequestBody
from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.connections.schemas import ConnectionCreate, ConnectionUnlink
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Event, SourceAccount
from bankfeeds.webhooks.events import EVENT_TYPES
from bankfeeds.worker.runner import Worker
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver


@dataclass
class Scene:
    company_id: uuid.UUID | None = None
    connection_id: uuid.UUID | None = None
    account_ids: list[uuid.UUID] = field(default_factory=list)


Setup = Callable[[Database, FrozenClock], Scene]
Act = Callable[[Session, FrozenClock, Settings, Scene], None]


def nothing(database: Database, clock: FrozenClock) -> Scene:
    return Scene()


def company_only(database: Database, clock: FrozenClock) -> Scene:
    return Scene(make_company(database, clock, tags={"region": "uk"}).id)


def with_connection(status: str, accounts: tuple[str, ...] = ()) -> Setup:
    def setup(database: Database, clock: FrozenClock) -> Scene:
        company = make_company(database, clock, tags={"region": "uk"})
        connection = make_connection(database, clock, company, "hcws", status=status)
        ids = [make_source_account(database, clock, connection, a, status=s).id
               for a, s in (x.split("/") for x in accounts)]
        return Scene(company.id, connection.id, ids)

    return setup


def _rows(s: Session, scene: Scene) -> tuple[Any, Any]:
    assert scene.company_id is not None
    company = companies.get(s, scene.company_id, for_update=True)
    connection = connections.get(s, company, scene.connection_id, for_update=True) if scene.connection_id else None
    return company, connection


def _account(s: Session, scene: Scene, i: int = 0) -> SourceAccount:
    account = s.get(SourceAccount, scene.account_ids[i])
    assert account is not None
    return account


def act_company_created(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    companies.create(s, clock, settings, CompanyRequestBody(name="New Co"), created_by="tests")


def act_company_deleted(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    companies.delete(s, clock, settings, _rows(s, scene)[0])


def act_connection_created(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    connections.create(s, clock, settings, _rows(s, scene)[0], ConnectionCreate(platform_key="hcws"))


def to_status(status: str) -> Act:
    def act(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
        company, connection = _rows(s, scene)
        connections.set_status(s, clock, settings, company, connection, status)

    return act


def act_connection_failed(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    company, connection = _rows(s, scene)
    connections.fail_link(s, clock, settings, company, connection)


def act_unlink(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    company, connection = _rows(s, scene)
    connections.unlink(s, clock, settings, company, connection, ConnectionUnlink(status="Unlinked"))


def act_connection_deleted(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    company, connection = _rows(s, scene)
    connections.delete(s, clock, settings, company, connection)


def act_account_connected(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    from bankfeeds.source_accounts import service as source_accounts

    company, connection = _rows(s, scene)
    source_accounts.mark_connected(s, clock, settings, company, connection, _account(s, scene))


def act_account_disconnected(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
    from bankfeeds.source_accounts import service as source_accounts

    company, connection = _rows(s, scene)
    source_accounts.mark_disconnected(s, clock, settings, company, connection, _account(s, scene))


def push(outcome: str) -> Act:
    def act(s: Session, clock: FrozenClock, settings: Settings, scene: Scene) -> None:
        from bankfeeds.push_operations import service as push_operations

        company, connection = _rows(s, scene)
        op = push_operations.start(s, clock, company_id=company.id, connection_id=connection.id,
                                   source_account_id="acc-1", timeout_in_minutes=None, transaction_count=1)
        if outcome == "success":
            push_operations.succeed(s, clock, settings, company, op, "txn-1")
        else:
            push_operations.fail(s, clock, settings, company, op, "The platform refused it.")

    return act


# event type -> (setup, act, repeating the act must not fire again)
CASES: dict[str, tuple[Setup, Act, bool]] = {
    "company.created": (nothing, act_company_created, False),
    "company.deleted": (company_only, act_company_deleted, False),
    "connection.created": (company_only, act_connection_created, False),
    "connection.connected": (with_connection("PendingAuth"), to_status("Linked"), True),
    "connection.failed": (with_connection("PendingAuth"), act_connection_failed, False),
    "connection.disconnected": (with_connection("Linked"), to_status("Unlinked"), True),
    "connection.reconnected": (with_connection("Unlinked"), to_status("Linked"), True),
    "connection.deleted": (with_connection("Linked"), act_connection_deleted, False),
    "bankFeeds.sourceAccount.connected": (
        with_connection("Linked", ("acc-1/pending",)), act_account_connected, True),
    "bankFeeds.sourceAccount.disconnected": (
        with_connection("Linked", ("acc-1/connected", "acc-2/connected")), act_account_disconnected, True),
    "bankTransactions.write.successful": (
        with_connection("Linked", ("acc-1/connected",)), push("success"), False),
    "bankTransactions.write.unsuccessful": (
        with_connection("Linked", ("acc-1/connected",)), push("failure"), False),
}


def test_every_event_type_has_a_case() -> None:
    assert set(CASES) == set(EVENT_TYPES)


class Boom(Exception):
    pass


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_fires_once_per_transition_never_on_rollback(
    event_type: str, client: TestClient, database: Database, clock: FrozenClock, settings: Settings,
    receiver: Receiver, worker: Worker,
) -> None:
    subscribe(client, receiver)
    setup, act, repeatable = CASES[event_type]
    scene = setup(database, clock)

    with pytest.raises(Boom), database.unit_of_work() as session:
        act(session, clock, settings, scene)
        session.flush()
        assert session.scalar(select(func.count()).select_from(Event)) == 1  # written, not yet committed
        raise Boom
    worker.drain()
    assert receiver.snapshot() == []
    with database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0

    with database.unit_of_work() as session:
        act(session, clock, settings, scene)
    if repeatable:
        with database.unit_of_work() as session:
            act(session, clock, settings, scene)
    worker.drain()
    [got] = receiver.snapshot()
    assert got.verified, got.error
    assert got.status == 200
    event = got.event
    assert event["eventType"] == event_type
    assert event["generatedDate"] == "2026-11-24T15:00:00Z"
    uuid.UUID(event["id"])
    assert got.webhook_id.startswith("msg_")
    if event_type.startswith("company."):
        assert event["payload"]["name"]
    else:
        reference = event["payload"]["referenceCompany"]
        assert reference["id"] == str(scene.company_id) and reference["tags"] == {"region": "uk"}
    if event_type == "connection.failed":
        connection = event["payload"]["connection"]
        assert connection["status"] == "PendingAuth"
        assert connection["dataConnectionErrors"][0]["statusCode"] == "403"
    # Nothing more is due: delivered once.
    assert worker.drain() == 0
    assert len(receiver.snapshot()) == 1


def test_consumers_get_only_their_types_and_company_tags(
    client: TestClient, receiver: Receiver, worker: Worker
) -> None:
    with Receiver() as uk_only, Receiver() as other_types:
        subscribe(client, receiver)
        subscribe(client, uk_only, ["company.created", "company.deleted"], companyTags=["region:uk", "tier:gold"])
        subscribe(client, other_types, ["connection.connected"])
        uk = client.post("/companies", json={"name": "UK Co", "tags": {"region": "uk"}}).json()
        client.post("/companies", json={"name": "US Co", "tags": {"region": "us"}})
        client.post("/companies", json={"name": "Gold Co", "tags": {"region": "fr", "tier": "gold"}})
        client.post("/companies", json={"name": "No tags"})
        client.post(f"/companies/{uk['id']}/connections", json={"platformKey": "hcws"})
        worker.drain()
        assert Counter(r.event["eventType"] for r in receiver.accepted()) == {
            "company.created": 4, "connection.created": 1}
        assert sorted(r.event["payload"]["name"] for r in uk_only.accepted()) == ["Gold Co", "UK Co"]
        assert other_types.snapshot() == []


def test_disabled_consumers_get_nothing(client: TestClient, receiver: Receiver, worker: Worker) -> None:
    subscribe(client, receiver, disabled=True)
    client.post("/companies", json={"name": "Acme"})
    worker.drain()
    assert receiver.snapshot() == []


def test_the_api_commits_events_with_its_changes(
    client: TestClient, receiver: Receiver, worker: Worker, database: Database, clock: FrozenClock,
    settings: Settings,
) -> None:
    """Through HTTP: every change that answers 2xx emits its event; one that answers 4xx emits none."""
    subscribe(client, receiver)
    company = client.post("/companies", json={"name": "Acme", "tags": {"region": "uk"}}).json()
    cid = company["id"]
    conn = client.post(f"/companies/{cid}/connections", json={"platformKey": "hcws"}).json()
    # A second connection is refused (409): nothing emitted.
    assert client.post(f"/companies/{cid}/connections", json={"platformKey": "gbol"}).status_code == 409
    # Unlinking a PendingAuth connection is refused (400): nothing emitted.
    assert client.patch(f"/companies/{cid}/connections/{conn['id']}", json={"status": "Unlinked"}).status_code == 400
    with database.unit_of_work() as s:
        c = companies.get(s, uuid.UUID(cid))
        connections.set_status(s, clock, settings, c, connections.get(s, c, uuid.UUID(conn["id"])), "Linked")
    assert client.patch(f"/companies/{cid}/connections/{conn['id']}", json={"status": "Unlinked"}).status_code == 200
    assert client.delete(f"/companies/{cid}").status_code == 204
    worker.drain()
    got = receiver.accepted()
    assert all(r.verified for r in receiver.snapshot())
    assert Counter(r.event["eventType"] for r in got) == {
        "company.created": 1, "connection.created": 1, "connection.connected": 1,
        "connection.disconnected": 1, "connection.deleted": 1, "company.deleted": 1,
    }
    assert len({r.webhook_id for r in got}) == 6


def test_a_commit_wakes_the_fan_out_only_when_a_consumer_subscribes(
    client: TestClient, receiver: Receiver, database: Database, worker: Worker
) -> None:
    """No worker work per commit for events nobody subscribes to; they are still dispatched."""
    import threading

    from bankfeeds.webhooks.events import EVENTS_TOPIC, forget_subscriptions
    from bankfeeds.worker import signals

    forget_subscriptions()  # the test database is reused: what an earlier test cached is stale
    wake = threading.Event()
    signals.register(wake, (EVENTS_TOPIC,))
    try:
        assert client.post("/companies", json={"name": "Nobody listens"}).status_code == 200
        assert not wake.is_set()
        subscribe(client, receiver, ["connection.created"])  # another event type
        assert client.post("/companies", json={"name": "Still nobody"}).status_code == 200
        assert not wake.is_set()
        consumer = subscribe(client, receiver, ["company.created"], companyTags=["region:eu"])
        assert client.post("/companies", json={"name": "Wrong tags", "tags": {"region": "us"}}).status_code == 200
        assert not wake.is_set()
        assert client.post("/companies", json={"name": "Heard", "tags": {"region": "eu"}}).status_code == 200
        assert wake.is_set()
        wake.clear()
        worker.drain()
        assert [r.event["payload"]["name"] for r in receiver.accepted()] == ["Heard"]
        assert client.post(f"/webhooks/{consumer['id']}/disable").status_code == 200
        assert client.post("/companies", json={"name": "Disabled", "tags": {"region": "eu"}}).status_code == 200
        assert not wake.is_set()
    finally:
        signals.unregister(wake)
    worker.drain()
    with database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.dispatched_at.is_(None))) == 0
    assert len(receiver.snapshot()) == 1
