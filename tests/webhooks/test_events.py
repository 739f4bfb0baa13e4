"""Each event type fires once per real transition, and never when the change rolls back.

Transitions run through the services the endpoints, IDX API and tasks call (and, in the last
test, through the HTTP API), each in a unit of work; a real receiver verifies every delivery
with the svix library.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bankfeeds.companies import service as companies
from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Event
from bankfeeds.webhooks.events import EVENT_TYPES
from bankfeeds.worker.runner import Worker
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenes import (
    Act,
    Setup,
    account_connected,
    account_disconnected,
    company_created,
    company_deleted,
    connection_created,
    connection_deleted,
    connection_failed,
    nothing,
    push,
    scene,
    to_status,
)

# event type -> (setup, act, repeating the act must not fire again)
CASES: dict[str, tuple[Setup, Act, bool]] = {
    "company.created": (nothing, company_created, False),
    "company.deleted": (scene(), company_deleted, False),
    "connection.created": (scene(), connection_created, False),
    "connection.connected": (scene("PendingAuth"), to_status("Linked"), True),
    "connection.failed": (scene("PendingAuth"), connection_failed, False),
    "connection.disconnected": (scene("Linked"), to_status("Unlinked"), True),
    "connection.reconnected": (scene("Unlinked"), to_status("Linked"), True),
    "connection.deleted": (scene("Linked"), connection_deleted, False),
    "bankFeeds.sourceAccount.connected": (scene("Linked", ("acc-1", "pending")), account_connected, True),
    "bankFeeds.sourceAccount.disconnected": (
        scene("Linked", ("acc-1", "connected"), ("acc-2", "connected")), account_disconnected, True),
    "bankTransactions.write.successful": (scene("Linked", ("acc-1", "connected")), push("success"), False),
    "bankTransactions.write.unsuccessful": (scene("Linked", ("acc-1", "connected")), push("failure"), False),
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
    made = setup(database, clock)

    with pytest.raises(Boom), database.unit_of_work() as session:
        act(session, clock, settings, made)
        session.flush()
        assert session.scalar(select(func.count()).select_from(Event)) == 1  # written, not yet committed
        raise Boom
    worker.drain()
    assert receiver.snapshot() == []
    with database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0

    with database.unit_of_work() as session:
        act(session, clock, settings, made)
    if repeatable:
        with database.unit_of_work() as session:
            act(session, clock, settings, made)
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
        assert made.company is not None
        assert reference["id"] == str(made.company.id) and reference["tags"] == {"region": "uk"}
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


def test_the_fan_out_logs_the_events_that_go_somewhere(
    client: TestClient, receiver: Receiver, database: Database, worker: Worker
) -> None:
    """One job line per event that became messages (it ties the request to its deliveries); none
    for an event no consumer takes, which is still marked dispatched."""
    import io
    import json
    import logging

    from bankfeeds.kit import logging as structured

    stream = io.StringIO()
    structured.configure("json", stream=stream)
    try:
        subscribe(client, receiver, ["company.created"], companyTags=["region:eu"])
        client.post("/companies", json={"name": "Heard", "tags": {"region": "eu"}})
        client.post("/companies", json={"name": "Unheard", "tags": {"region": "us"}})
        worker.drain()
    finally:
        logger = logging.getLogger("bankfeeds")
        for handler in list(logger.handlers):
            if handler.get_name() == "bankfeeds-structured":
                logger.removeHandler(handler)
        logger.propagate = True
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    dispatched = [j for j in lines if j.get("job") == "dispatch_webhook_events" and "event_id" in j]
    assert [(j["event_type"], j["messages"]) for j in dispatched] == [("company.created", 1)]
    assert [r.event["payload"]["name"] for r in receiver.accepted()] == ["Heard"]
    with database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.dispatched_at.is_(None))) == 0


def test_with_no_consumer_the_fan_out_marks_events_in_batches_and_makes_no_message(
    client: TestClient, receiver: Receiver, database: Database, clock: FrozenClock
) -> None:
    """Nobody subscribed at all: the fan-out marks the oldest events as fanned out in one
    statement per batch (none read), oldest first, and makes no message; once a consumer exists,
    the events after it reach it."""
    from bankfeeds.models import WebhookMessage
    from bankfeeds.webhooks import service

    for n in range(5):
        assert client.post("/companies", json={"name": f"Unheard {n}"}).status_code == 200

    def pending() -> list[str]:
        with database.unit_of_work() as s:
            rows = s.execute(select(Event.body).where(Event.dispatched_at.is_(None)).order_by(Event.seq)).scalars()
            return [body["payload"]["name"] for body in rows]

    assert pending() == [f"Unheard {n}" for n in range(5)]
    with database.unit_of_work() as s:
        assert service.dispatch_events(s, clock, 3) == 3
    assert pending() == ["Unheard 3", "Unheard 4"]  # the oldest three went first
    with database.unit_of_work() as s:
        assert service.dispatch_events(s, clock, 3) == 2
        assert service.dispatch_events(s, clock, 3) == 0
        assert s.scalar(select(func.count()).select_from(WebhookMessage)) == 0
    subscribe(client, receiver, ["company.created"])
    assert client.post("/companies", json={"name": "Heard"}).status_code == 200
    with database.unit_of_work() as s:
        assert service.dispatch_events(s, clock, 3) == 1
        assert s.scalar(select(func.count()).select_from(WebhookMessage)) == 1
