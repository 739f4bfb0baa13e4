"""Recovery: resend one message, recover failed messages since a time, replay what was missed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.worker.runner import Worker
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import SCHEDULE, Switch, company, messages


def run_schedule_out(worker: Worker, clock: FrozenClock) -> None:
    worker.drain()
    for delay in SCHEDULE:
        clock.advance(delay)
        worker.drain()


def test_resend_one_message_with_the_same_webhook_id(
    client: TestClient, receiver: Receiver, worker: Worker, database: Database
) -> None:
    consumer = subscribe(client, receiver, ["company.created"])
    company(client)
    worker.drain()
    [m] = messages(database)
    assert m.status == "Success"
    r = client.post(f"/webhooks/{consumer['id']}/messages/{m.id}/resend")
    assert r.status_code == 202 and r.json()["status"] == "Sending" and r.json()["trigger"] == "resend"
    worker.drain()
    assert [x.webhook_id for x in receiver.accepted()] == [m.id, m.id]
    attempts = client.get(f"/webhooks/{consumer['id']}/messages/{m.id}/attempts").json()["results"]
    assert [a["trigger"] for a in attempts] == ["event", "resend"]
    assert client.post(f"/webhooks/{consumer['id']}/messages/msg_nope/resend").status_code == 404


def test_recover_failed_messages_since_a_time(
    client: TestClient, receiver: Receiver, worker: Worker, database: Database, clock: FrozenClock
) -> None:
    switch = Switch(up=False)
    receiver.responder = switch
    consumer = subscribe(client, receiver, ["company.created"])
    company(client, "Early")
    clock.advance(timedelta(hours=1))
    company(client, "Later")
    run_schedule_out(worker, clock)
    company(client, "Still trying")  # not failed for good: not part of a recovery
    worker.drain()
    assert sorted(m.status for m in messages(database)) == ["Attempting", "Failure", "Failure"]
    switch.up = True
    listed = client.get(f"/webhooks/{consumer['id']}/messages", params={"status": "Failure"}).json()["results"]
    assert len(listed) == 2

    r = client.post(f"/webhooks/{consumer['id']}/recover", json={"since": "2026-11-24T15:30:00Z"})
    assert r.status_code == 202 and r.json() == {"count": 1}
    worker.drain()
    assert [x.event["payload"]["name"] for x in receiver.accepted()] == ["Later"]

    r = client.post(f"/webhooks/{consumer['id']}/recover", json={"since": "2026-11-24T00:00:00"})
    assert r.json() == {"count": 1}
    worker.drain()
    assert sorted(x.event["payload"]["name"] for x in receiver.accepted()) == ["Early", "Later"]
    assert client.post(f"/webhooks/{consumer['id']}/recover", json={"since": "2030-01-01T00:00:00Z"}).status_code == 400
    assert client.post(f"/webhooks/{consumer['id']}/recover", json={"since": "yesterday"}).status_code == 400
    assert client.post(f"/webhooks/{consumer['id']}/recover", json={}).status_code == 400


def test_replay_what_a_consumer_missed_in_the_last_14_days(
    client: TestClient, receiver: Receiver, worker: Worker, clock: FrozenClock
) -> None:
    company(client, "Too old", tags={"region": "uk"})
    clock.advance(timedelta(days=2))
    company(client, "Before the consumer", tags={"region": "uk"})
    company(client, "Other region", tags={"region": "us"})
    worker.drain()  # no consumer yet: the events are kept anyway
    clock.advance(timedelta(days=12, hours=1))
    consumer = subscribe(client, receiver, ["company.created"], companyTags=["region:uk"])
    base = f"/webhooks/{consumer['id']}/replay-missing"
    assert client.post(base, json={"since": "2026-11-24T00:00:00Z"}).status_code == 400  # over 14 days
    assert client.post(base, json={"since": "2030-01-01T00:00:00Z"}).status_code == 400
    r = client.post(base, json={"since": "2026-11-25T00:00:00Z"})
    assert r.status_code == 202 and r.json() == {"count": 1}
    worker.drain()
    assert [x.event["payload"]["name"] for x in receiver.accepted()] == ["Before the consumer"]
    assert client.post(base, json={"since": "2026-11-25T00:00:00Z"}).json() == {"count": 0}


def test_messages_listing(client: TestClient, receiver: Receiver, worker: Worker) -> None:
    consumer = subscribe(client, receiver, ["company.created"])
    for i in range(3):
        company(client, f"Co {i}")
    worker.drain()
    base = f"/webhooks/{consumer['id']}/messages"
    body: dict[str, Any] = client.get(base).json()
    assert len(body["results"]) == 3
    m = body["results"][0]
    assert m["status"] == "Success" and m["eventType"] == "company.created" and m["id"].startswith("msg_")
    assert m["delivered"] == "2026-11-24T15:00:00Z" and m["nextAttempt"] is None
    assert len(client.get(base, params={"limit": 2}).json()["results"]) == 2
    assert len(client.get(base, params={"since": "2026-11-24T15:00:00"}).json()["results"]) == 3
    assert client.get(base, params={"since": "2026-11-24T15:00:01Z"}).json()["results"] == []
    assert client.get(base, params={"since": "soon"}).status_code == 400
    assert client.get(base, params={"status": "Nope"}).status_code == 400
    assert client.get(base, params={"limit": 0}).status_code == 400


def test_events_are_purged_after_30_days_once_nothing_is_pending(
    client: TestClient, receiver: Receiver, worker: Worker, database: Database, clock: FrozenClock
) -> None:
    from sqlalchemy import select

    from bankfeeds.models import Event, WebhookAttempt
    from bankfeeds.webhooks import service

    switch = Switch(up=True)
    receiver.responder = switch
    subscribe(client, receiver, ["company.created"])
    company(client, "Delivered")
    worker.drain()
    switch.up = False
    company(client, "Still pending")
    worker.drain()
    clock.advance(timedelta(days=2))
    company(client, "Recent")
    worker.drain()
    clock.advance(timedelta(days=28, hours=1))  # the first two are now 30 days and 1 hour old
    with database.unit_of_work() as s:
        assert service.purge_old_events(s, clock) == 1
    with database.unit_of_work() as s:
        names = sorted(e.body["payload"]["name"] for e in s.scalars(select(Event)))
        attempts = len(list(s.scalars(select(WebhookAttempt))))
    assert names == ["Recent", "Still pending"]
    assert len(messages(database)) == 2 and attempts == 3  # two for "Still pending", one for "Recent"
