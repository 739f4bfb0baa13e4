"""Delivery: Standard Webhooks signatures, Svix's retry schedule, attempts, disabling, leases."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from svix.webhooks import Webhook, WebhookVerificationError

from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock, SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import WebhookMessage
from bankfeeds.webhooks.config import DeliveryOptions
from bankfeeds.webhooks.delivery import Deliverer
from bankfeeds.webhooks.tasks import deliver_messages, dispatch_events
from bankfeeds.worker.runner import Worker
from tests.fixtures.app import NOW
from tests.webhooks.conftest import make_worker, subscribe
from tests.webhooks.receiver import Received, Receiver

SCHEDULE = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
            timedelta(hours=5), timedelta(hours=10), timedelta(hours=10)]


class Switch:
    """A responder: 503 while down, 200 when up."""

    def __init__(self, up: bool = False) -> None:
        self.up = up

    def __call__(self, item: Received) -> tuple[int, bytes]:
        return (200, b"ok") if self.up else (503, b"down for maintenance")


def messages(database: Database) -> list[WebhookMessage]:
    with database.unit_of_work() as s:
        return list(s.scalars(select(WebhookMessage).order_by(WebhookMessage.created_at, WebhookMessage.id)))


def company(client: TestClient, name: str = "Acme", **body: Any) -> dict[str, Any]:
    r = client.post("/companies", json={"name": name, **body})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_signed_so_svix_verifies_and_tampering_fails(
    client: TestClient, receiver: Receiver, worker: Worker
) -> None:
    consumer = subscribe(client, receiver, ["company.created"])
    company(client)
    worker.drain()
    [got] = receiver.snapshot()
    assert got.verified, got.error
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-signature"].startswith("v1,")
    assert int(got.headers["webhook-timestamp"]) == pytest.approx(SystemClock().now().timestamp(), abs=60)
    wh = Webhook(consumer["signingSecret"])
    wh.verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        wh.verify(got.body.replace(b"Acme", b"Acne"), got.headers)
    with pytest.raises(WebhookVerificationError):
        wh.verify(got.body + b" ", got.headers)
    with pytest.raises(WebhookVerificationError):
        wh.verify(got.body, {**got.headers, "webhook-id": "msg_other"})
    stale = str(int(got.headers["webhook-timestamp"]) - 6 * 60)
    with pytest.raises(WebhookVerificationError):
        wh.verify(got.body, {**got.headers, "webhook-timestamp": stale})
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(got.body, got.headers)


def test_a_stale_timestamp_fails_verification_and_is_retried(
    client: TestClient, receiver: Receiver, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    """A sender whose wall clock is 6 minutes behind: svix (5 minutes tolerance) refuses it."""
    subscribe(client, receiver, ["company.created"])
    company(client)
    behind = FrozenClock(SystemClock().now() - timedelta(minutes=6))
    late = Worker(database, settings, clock, tasks=[
        dispatch_events, deliver_messages(DeliveryOptions.from_settings(settings, timeout_seconds=5), wall_clock=behind)])
    late.drain()
    [got] = receiver.snapshot()
    assert not got.verified and "too old" in (got.error or "")
    [m] = messages(database)
    assert m.status == "Attempting" and m.attempts == 1
    # A sender with the right time gets it through on the next retry.
    clock.advance(timedelta(seconds=5))
    on_time = make_worker(database, settings, clock)
    on_time.drain()
    assert [r.verified for r in receiver.snapshot()] == [False, True]
    assert messages(database)[0].status == "Success"
    late.close()
    on_time.close()


def test_a_receiver_that_fails_then_recovers_gets_every_message(
    client: TestClient, receiver: Receiver, worker: Worker, database: Database, clock: FrozenClock
) -> None:
    """Down for the first seven attempts (about 17.5 hours), up for the eighth: nothing is lost."""
    switch = Switch(up=False)
    receiver.responder = switch
    consumer = subscribe(client, receiver, ["company.created"])
    for i in range(3):
        company(client, f"Co {i}")
    worker.drain()
    assert len(receiver.snapshot()) == 3
    first_attempt = clock.now()

    def originals() -> int:
        return sum(1 for r in receiver.snapshot() if r.event["payload"]["name"].startswith("Co "))

    for n, delay in enumerate(SCHEDULE, start=2):
        clock.advance(delay - timedelta(seconds=1))
        worker.drain()
        assert originals() == 3 * (n - 1), "nothing is sent before it is due"
        clock.advance(timedelta(seconds=1))
        if n == 8:
            switch.up = True
        worker.drain()
        assert originals() == 3 * n
        if n == 4:
            company(client, "Late Co")  # a new message while the receiver is still down
            worker.drain()
    delivered = {r.event["payload"]["name"] for r in receiver.accepted()}
    assert {"Co 0", "Co 1", "Co 2"} <= delivered
    # The late message is on its own schedule; keep the clock moving until it is through.
    for _ in range(8):
        clock.advance(timedelta(hours=10))
        worker.drain()
    assert sorted(r.event["payload"]["name"] for r in receiver.accepted()) == ["Co 0", "Co 1", "Co 2", "Late Co"]
    # Each message kept its webhook-id across its attempts; every attempt verified.
    by_id: dict[str, set[str]] = {}
    for r in receiver.snapshot():
        assert r.verified
        by_id.setdefault(r.webhook_id, set()).add(r.event["id"])
    assert len(by_id) == 4 and all(len(v) == 1 for v in by_id.values())
    ms = messages(database)
    assert [m.status for m in ms] == ["Success"] * 4
    first = ms[0]
    assert first.delivered_at - first_attempt == sum(SCHEDULE, timedelta())  # type: ignore[operator]
    # Every attempt is recorded: time, status, latency, the start of the response.
    attempts = client.get(f"/webhooks/{consumer['id']}/messages/{first.id}/attempts").json()["results"]
    assert [a["statusCode"] for a in attempts] == [503] * 7 + [200]
    assert [a["response"] for a in attempts] == ["down for maintenance"] * 7 + ["ok"]
    assert all(a["latencyMs"] >= 0 and a["url"] == receiver.url for a in attempts)
    assert attempts[1]["attempted"] == "2026-11-24T15:00:05Z"


def test_svix_schedule_three_failures_then_success(
    client: TestClient, receiver: Receiver, worker: Worker, database: Database, clock: FrozenClock
) -> None:
    """Svix's own example: three failures then a success is delivered 35 min 5 s after the first try."""
    answers = [503, 500, 404, 200]
    receiver.responder = lambda item: (answers.pop(0), b"")
    subscribe(client, receiver, ["company.created"])
    company(client)
    start = clock.now()
    worker.drain()
    for delay in SCHEDULE[:3]:
        clock.advance(delay)
        worker.drain()
    [m] = messages(database)
    assert m.status == "Success" and m.delivered_at == start + timedelta(minutes=35, seconds=5)
    assert len({r.webhook_id for r in receiver.snapshot()}) == 1 and len(receiver.snapshot()) == 4


def test_gives_up_after_eight_attempts(
    client: TestClient, receiver: Receiver, worker: Worker, database: Database, clock: FrozenClock
) -> None:
    receiver.responder = Switch(up=False)
    subscribe(client, receiver, ["company.created"])
    company(client)
    worker.drain()
    for delay in SCHEDULE:
        clock.advance(delay)
        worker.drain()
    assert len(receiver.snapshot()) == 8
    [m] = messages(database)
    assert m.status == "Failure" and m.next_attempt_at is None and m.attempts == 8
    clock.advance(timedelta(days=3))
    assert worker.drain() == 0 and len(receiver.snapshot()) == 8


def _http_date(after: timedelta) -> str:
    return format_datetime(datetime.now(UTC) + after, usegmt=True)


@pytest.mark.parametrize(("status", "header", "wait"), [
    (429, "600", timedelta(minutes=10)),  # later than the schedule's 5 s
    (503, "600", timedelta(minutes=10)),
    (429, "2", SCHEDULE[0]),  # earlier than the schedule: the schedule wins
    (429, "999999999999999999999", timedelta(hours=24)),  # capped
    (429, "soon, please", SCHEDULE[0]),  # unreadable: the schedule
    (429, "-30", SCHEDULE[0]),
    (503, "HTTP-DATE+900", timedelta(minutes=15)),  # an HTTP date, 15 min from now (real time)
    (429, "Wed, 21 Oct 2015 07:28:00 GMT", SCHEDULE[0]),  # a past date: the schedule
    (500, "600", SCHEDULE[0]),  # only 429 and 503 are read
])
def test_retry_after_puts_the_next_attempt_off(
    status: int, header: str, wait: timedelta,
    client: TestClient, receiver: Receiver, worker: Worker, database: Database, clock: FrozenClock,
) -> None:
    """The endpoint answers 429/503 with Retry-After: the retry is sent no earlier than the later of
    the schedule and Retry-After (at most 24 h), on the injected clock; then it succeeds."""
    answers: list[tuple[int, bytes, dict[str, str]]] = [(status, b"slow down", {"Retry-After": header}),
                                                       (200, b"ok", {})]

    def respond(item: Received) -> tuple[int, bytes, dict[str, str]]:
        code, body, headers = answers.pop(0) if len(answers) > 1 else answers[0]
        if headers.get("Retry-After", "").startswith("HTTP-DATE+"):
            headers = {"Retry-After": _http_date(timedelta(seconds=int(headers["Retry-After"][10:])))}
        return code, body, headers

    receiver.responder = respond
    subscribe(client, receiver, ["company.created"])
    company(client)
    start = clock.now()
    worker.drain()
    [m] = messages(database)
    assert m.status == "Attempting" and m.attempts == 1 and len(receiver.snapshot()) == 1
    # An HTTP date is compared with real time when the answer is read: a second or so of slack.
    slack = timedelta(seconds=2) if header.startswith("HTTP-DATE") else timedelta(0)
    assert wait - slack <= m.next_attempt_at - start <= wait
    clock.advance(wait - slack - timedelta(seconds=1))
    worker.drain()
    assert len(receiver.snapshot()) == 1  # not before the time
    clock.advance(slack + timedelta(seconds=1))
    worker.drain()
    assert [r.status for r in receiver.snapshot()] == [status, 200]
    [m] = messages(database)
    assert m.status == "Success" and m.delivered_at == clock.now() >= start + wait


@pytest.mark.parametrize("answer", [(302, b"elsewhere"), (400, b"no"), (500, b"x" * 5000)])
def test_only_2xx_is_success_and_responses_are_cut(
    answer: tuple[int, bytes], client: TestClient, receiver: Receiver, worker: Worker, database: Database
) -> None:
    receiver.responder = lambda item: answer
    consumer = subscribe(client, receiver, ["company.created"])
    company(client)
    worker.drain()
    [m] = messages(database)
    assert m.status == "Attempting"
    [a] = client.get(f"/webhooks/{consumer['id']}/messages/{m.id}/attempts").json()["results"]
    assert a["statusCode"] == answer[0] and a["success"] is False
    assert a["response"] == answer[1][:1024].decode()


def test_no_answer_within_the_timeout_is_a_failure(
    client: TestClient, receiver: Receiver, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    release = threading.Event()

    def slow(item: Received) -> tuple[int, bytes]:
        release.wait(10)
        return 200, b"too late"

    receiver.responder = slow
    consumer = subscribe(client, receiver, ["company.created"])
    company(client)
    worker = make_worker(database, settings, clock, timeout_seconds=0.3)
    worker.drain()
    release.set()
    [m] = messages(database)
    assert m.status == "Attempting"
    [a] = client.get(f"/webhooks/{consumer['id']}/messages/{m.id}/attempts").json()["results"]
    assert a["statusCode"] is None and "0.3 s" in a["error"] and a["latencyMs"] >= 300
    worker.close()


def test_unreachable_endpoint_is_a_recorded_failure(
    client: TestClient, worker: Worker, database: Database
) -> None:
    from tests.fixtures.app import free_port

    r = client.post("/webhooks", json={"url": f"http://127.0.0.1:{free_port()}/x", "eventTypes": ["company.created"]})
    company(client)
    worker.drain()
    [m] = messages(database)
    assert m.status == "Attempting"
    [a] = client.get(f"/webhooks/{r.json()['id']}/messages/{m.id}/attempts").json()["results"]
    assert a["statusCode"] is None and a["error"].startswith("ConnectError")


def test_failing_for_five_days_disables_and_enabling_resumes(
    client: TestClient, receiver: Receiver, worker: Worker, database: Database, clock: FrozenClock
) -> None:
    switch = Switch(up=False)
    receiver.responder = switch
    consumer = subscribe(client, receiver, ["company.created"])
    company(client, "Day 0")
    worker.drain()
    for delay in SCHEDULE:
        clock.advance(delay)
        worker.drain()
    assert messages(database)[0].status == "Failure"
    assert client.get("/webhooks").json()["results"][0]["disabled"] is False
    clock.set(NOW + timedelta(days=5, minutes=-5))  # 4 days 23 h 55 min after the first failure
    company(client, "Day 4")
    worker.drain()
    clock.advance(timedelta(seconds=5))
    worker.drain()
    assert client.get("/webhooks").json()["results"][0]["disabled"] is False
    clock.advance(timedelta(minutes=5))  # now 5 days and a few minutes after the first failure
    worker.drain()
    assert client.get("/webhooks").json()["results"][0]["disabled"] is True
    sent = len(receiver.snapshot())
    clock.advance(timedelta(hours=12))
    company(client, "While disabled")  # not queued for a disabled endpoint...
    assert worker.drain() > 0 and len(receiver.snapshot()) == sent  # ...and held retries are not sent

    switch.up = True
    assert client.post(f"/webhooks/{consumer['id']}/enable").json()["disabled"] is False
    worker.drain()
    assert [r.event["payload"]["name"] for r in receiver.accepted()] == ["Day 4"]
    # What happened while it was disabled comes back with "replay missing".
    r = client.post(f"/webhooks/{consumer['id']}/replay-missing", json={"since": "2026-11-24T00:00:00Z"})
    assert r.status_code == 202 and r.json() == {"count": 1}
    worker.drain()
    assert [r.event["payload"]["name"] for r in receiver.accepted()] == ["Day 4", "While disabled"]


def test_a_rotated_secret_signs_alongside_the_old_one_for_a_day(
    client: TestClient, receiver: Receiver, worker: Worker, clock: FrozenClock
) -> None:
    consumer = subscribe(client, receiver, ["company.created"])
    old = consumer["signingSecret"]
    new = client.post(f"/webhooks/{consumer['id']}/secret/rotate").json()["signingSecret"]
    company(client, "One")
    worker.drain()
    [got] = receiver.snapshot()
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(got.body, got.headers)
    Webhook(new).verify(got.body, got.headers)
    clock.advance(timedelta(hours=24, seconds=1))
    receiver.secret = new
    company(client, "Two")
    worker.drain()
    second = receiver.snapshot()[1]
    assert second.verified and len(second.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(second.body, second.headers)


def test_deleting_a_consumer_drops_its_pending_retries(
    client: TestClient, receiver: Receiver, worker: Worker, database: Database, clock: FrozenClock
) -> None:
    receiver.responder = Switch(up=False)
    consumer = subscribe(client, receiver, ["company.created"])
    company(client)
    worker.drain()
    assert client.delete(f"/webhooks/{consumer['id']}").status_code == 204
    assert messages(database) == []
    clock.advance(timedelta(days=2))
    worker.drain()
    assert len(receiver.snapshot()) == 1


def wait_until_attempts(client: TestClient, consumer_id: str, message_id: str, n: int) -> None:
    for _ in range(500):
        got = client.get(f"/webhooks/{consumer_id}/messages/{message_id}/attempts").json()["results"]
        if len(got) >= n:
            return
        time.sleep(0.02)
    raise AssertionError("the attempt was never recorded")


def _deliverer(database: Database, settings: Settings, clock: FrozenClock, **options: Any) -> Deliverer:
    return Deliverer(database, settings, clock, DeliveryOptions.from_settings(settings, **{"timeout_seconds": 5.0, **options}))


def test_a_dead_workers_lease_runs_out_and_another_worker_delivers(
    client: TestClient, receiver: Receiver, worker: Worker, database: Database, settings: Settings,
    clock: FrozenClock,
) -> None:
    subscribe(client, receiver, ["company.created"])
    company(client)
    worker.ctx.database  # noqa: B018
    with database.unit_of_work() as s:
        from bankfeeds.webhooks import service

        service.dispatch_events(s, clock, 100)
    dead, alive = _deliverer(database, settings, clock), _deliverer(database, settings, clock)
    [job] = dead.claim(10)  # claims, then "dies" before sending
    assert alive.claim(10) == []
    clock.advance(timedelta(seconds=29))
    assert alive.claim(10) == []
    clock.advance(timedelta(seconds=2))  # the 30 s lease has run out
    [again] = alive.claim(10)
    assert again.message_id == job.message_id
    assert alive.attempt(again).success
    # The "dead" worker wakes up late and sends too: a duplicate with the same webhook-id, which
    # is recorded but does not change the message (its lease was taken over).
    assert dead.attempt(job).success
    [m] = messages(database)
    assert m.status == "Success" and m.locked_by is None
    assert [r.webhook_id for r in receiver.snapshot()] == [job.message_id] * 2
    dead.close()
    alive.close()


def test_graceful_shutdown_finishes_in_flight_deliveries(
    client: TestClient, receiver: Receiver, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    arrived, release = threading.Event(), threading.Event()

    def held(item: Received) -> tuple[int, bytes]:
        arrived.set()
        release.wait(10)
        return 200, b"ok"

    receiver.responder = held
    subscribe(client, receiver, ["company.created"])
    company(client)
    w = make_worker(database, settings, clock, grace_seconds=10)
    w.start()
    assert arrived.wait(10)
    stopper = threading.Thread(target=w.stop)
    stopper.start()
    release.set()
    stopper.join(20)
    assert not stopper.is_alive()
    [m] = messages(database)
    assert m.status == "Success" and m.locked_by is None


def test_shutdown_releases_what_it_cannot_finish(
    client: TestClient, receiver: Receiver, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    arrived, release = threading.Event(), threading.Event()

    def held(item: Received) -> tuple[int, bytes]:
        arrived.set()
        release.wait(10)
        return 200, b"ok"

    receiver.responder = held
    consumer = subscribe(client, receiver, ["company.created"])
    company(client)
    w = make_worker(database, settings, clock, grace_seconds=0.2)
    w.start()
    assert arrived.wait(10)
    w.stop()
    [m] = messages(database)
    assert m.locked_by is None and m.status == "Sending" and m.next_attempt_at is not None
    receiver.responder = None
    release.set()
    # The late answer is recorded as an attempt, but the message is no longer that worker's.
    wait_until_attempts(client, consumer["id"], m.id, 1)
    assert messages(database)[0].status == "Sending"
    # Another worker takes the released message at once (no lease to wait for).
    other = make_worker(database, settings, clock)
    other.drain()
    assert messages(database)[0].status == "Success"
    other.close()


def test_consumer_ids_in_paths(client: TestClient) -> None:
    for path in (f"/webhooks/{uuid.uuid4()}/messages", "/webhooks/nope/messages"):
        assert client.get(path).status_code == 404


def test_a_slow_endpoint_does_not_hold_up_the_others(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    """A receiver that answers nothing gets at most its share of the slots; another receiver
    gets every message meanwhile, over kept-alive connections."""
    release = threading.Event()
    held: list[str] = []

    def stuck(item: Received) -> tuple[int, bytes]:
        held.append(item.webhook_id)
        release.wait(20)
        return 200, b"late"

    with Receiver(responder=stuck) as slow, Receiver() as fast:
        subscribe(client, slow, ["company.created"])
        subscribe(client, fast, ["company.created"])
        for i in range(12):
            company(client, f"Co {i}")
        w = make_worker(database, settings, clock, concurrency=4, timeout_seconds=15)
        w.start()
        try:
            got = fast.wait_for(lambda items: len(items) == 12, timeout=20)
            assert all(r.verified for r in got)
            assert sorted(r.event["payload"]["name"] for r in got) == sorted(f"Co {i}" for i in range(12))
            # The slow one holds only its share (3 of the 4 slots), never all of them.
            assert 1 <= len(held) <= 3 and not release.is_set()
            # Keep-alive: the fast receiver's 12 requests came over at most 3 connections.
            assert len({r.peer for r in got}) <= 3
        finally:
            release.set()
            slow.wait_for(lambda items: len(items) == 12, timeout=30)
            w.stop()
    assert {m.status for m in messages(database)} == {"Success"}


def test_a_delivery_longer_than_the_lease_keeps_it(
    client: TestClient, receiver: Receiver, database: Database, settings: Settings
) -> None:
    """The lane renews the leases of what it has in flight: nobody else takes a message whose
    delivery outlasts several leases, and it is sent once."""
    arrived, release = threading.Event(), threading.Event()

    def held(item: Received) -> tuple[int, bytes]:
        arrived.set()
        release.wait(15)
        return 200, b"ok"

    receiver.responder = held
    subscribe(client, receiver, ["company.created"])
    company(client)
    wall = SystemClock()  # leases run out in real time here
    options = DeliveryOptions.from_settings(settings, lease_seconds=2.0, timeout_seconds=12)
    w = Worker(database, settings, wall, tasks=[dispatch_events, deliver_messages(options)])
    other = Deliverer(database, settings, wall, options)
    w.start()
    try:
        assert arrived.wait(10)
        deadline = time.monotonic() + 5  # two and a half leases
        while time.monotonic() < deadline:
            assert other.claim(10) == []
            time.sleep(0.25)
        release.set()
        for _ in range(500):
            if messages(database)[0].status == "Success":
                break
            time.sleep(0.02)
    finally:
        release.set()
        w.stop()
        other.close()
    [m] = messages(database)
    assert m.status == "Success" and m.locked_by is None
    assert len(receiver.snapshot()) == 1
