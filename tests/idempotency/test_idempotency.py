"""Idempotency-Key on the public API, through the real app and database."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bankfeeds.api_keys import service as api_keys
from bankfeeds.config import Settings
from bankfeeds.errors import Conflict, TooManyRequests
from bankfeeds.idempotency import service
from bankfeeds.idempotency.repository import IdempotencyRepository
from bankfeeds.idempotency.tasks import purge_expired_keys
from bankfeeds.kit import locks
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, IdempotencyKey
from bankfeeds.worker import registry
from bankfeeds.worker.task import TaskContext
from tests.fixtures.app import LiveServer, basic
from tests.fixtures.concurrency import at_once
from tests.fixtures.factories import make_company


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def companies(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Company)) or 0)


def rows(database: Database) -> list[IdempotencyKey]:
    with database.unit_of_work() as session:
        return list(session.scalars(select(IdempotencyKey)))


class Counter:
    """Test-only routes added to the real app, counting how often they really ran."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def hit(self) -> int:
        with self.lock:
            self.calls += 1
            return self.calls


@pytest.fixture
def counter(app: FastAPI) -> Counter:
    counter = Counter()

    @app.post("/companies/test-only/limited")
    def limited() -> dict[str, int]:
        if counter.hit() == 1:
            raise TooManyRequests("You have made too many requests in a given amount of time; "
                                  "please retry later.")
        return {"calls": counter.calls}

    @app.post("/companies/test-only/boom")
    def boom() -> dict[str, int]:
        counter.hit()
        raise RuntimeError("boom")

    @app.post("/companies/test-only/echo")
    async def echo(request: Request) -> dict[str, Any]:
        return {"calls": counter.hit(), "bytes": len(await request.body())}

    @app.post("/link/test-only/echo")
    def link_echo() -> dict[str, int]:
        return {"calls": counter.hit()}

    return counter


# --- Codat's documented behaviour ------------------------------------------------------------

def test_first_response_is_replayed_and_the_request_runs_once(client: TestClient, database: Database) -> None:
    headers = key()
    first = client.post("/companies", json={"name": "Bank of Dave"}, headers=headers)
    again = client.post("/companies", json={"name": "Bank of Dave"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert companies(database) == 1
    # Without a key, or with another key, the same body is a new request.
    assert client.post("/companies", json={"name": "Bank of Dave"}).json()["id"] != first.json()["id"]
    assert client.post("/companies", json={"name": "Bank of Dave"}, headers=key()).status_code == 200
    assert companies(database) == 3


def test_same_key_with_another_request_is_422(client: TestClient, database: Database) -> None:
    headers = key()
    company = client.post("/companies", json={"name": "A"}, headers=headers).json()
    for method, path, params, body in [
        ("POST", "/companies", None, {"name": "B"}),                       # other body
        ("POST", "/companies", {"x": "1"}, {"name": "A"}),                  # other query
        ("PATCH", f"/companies/{company['id']}", None, {"name": "A"}),      # other method and path
    ]:
        r = client.request(method, path, params=params, json=body, headers=headers)
        assert r.status_code == 422, (method, path, r.text)
        err = r.json()
        assert err["statusCode"] == 422 and err["service"] == "PublicApi" and err["correlationId"]
        assert "Idempotency-Key" in err["error"]
    assert companies(database) == 1
    assert client.get(f"/companies/{company['id']}").json()["name"] == "A"


def test_patch_is_replayed_not_reapplied(client: TestClient) -> None:
    cid = client.post("/companies", json={"name": "Original"}).json()["id"]
    headers = key()
    assert client.patch(f"/companies/{cid}", json={"name": "First"}, headers=headers).json()["name"] == "First"
    assert client.patch(f"/companies/{cid}", json={"name": "Second"}).status_code == 200
    replay = client.patch(f"/companies/{cid}", json={"name": "First"}, headers=headers)
    assert replay.status_code == 200 and replay.json()["name"] == "First"
    assert client.get(f"/companies/{cid}").json()["name"] == "Second"


def test_errors_are_kept_too(client: TestClient, database: Database) -> None:
    headers = key()
    bad = client.post("/companies", content=b'{"name": ""}', headers={**headers, "Content-Type": "application/json"})
    assert bad.status_code == 400
    again = client.post("/companies", content=b'{"name": ""}', headers={**headers, "Content-Type": "application/json"})
    assert again.status_code == 400 and again.json() == bad.json()  # same correlationId: a replay
    missing = f"/companies/{uuid.uuid4()}"
    headers = key()
    assert client.patch(missing, json={"name": "x"}, headers=headers).status_code == 404
    assert client.patch(missing, json={"name": "x"}, headers=headers).headers["Idempotent-Replayed"] == "true"


def test_unexpected_500_is_kept_with_its_correlation_id(client: TestClient, counter: Counter) -> None:
    headers = key()
    first = client.post("/companies/test-only/boom", json={}, headers=headers)
    assert first.status_code == 500
    err = first.json()
    assert err["statusCode"] == 500 and err["error"] == "An unexpected error occurred."
    again = client.post("/companies/test-only/boom", json={}, headers=headers)
    assert again.status_code == 500 and again.json() == err
    assert counter.calls == 1


def test_429_is_not_kept(client: TestClient, counter: Counter, database: Database) -> None:
    headers = key()
    limited = client.post("/companies/test-only/limited", json={}, headers=headers)
    assert limited.status_code == 429 and limited.json()["canBeRetried"] == "True"
    assert rows(database) == []                      # the key was released
    retried = client.post("/companies/test-only/limited", json={}, headers=headers)
    assert retried.status_code == 200 and retried.json() == {"calls": 2}
    again = client.post("/companies/test-only/limited", json={}, headers=headers)
    assert again.json() == {"calls": 2} and counter.calls == 2


def test_replay_lasts_the_ttl_by_the_clock(client: TestClient, clock: FrozenClock, settings: Settings,
                                           database: Database) -> None:
    assert settings.idempotency_ttl_minutes == 90
    headers = key()
    first = client.post("/companies", json={"name": "A"}, headers=headers).json()
    clock.advance(timedelta(minutes=89, seconds=59))
    assert client.post("/companies", json={"name": "A"}, headers=headers).json() == first
    clock.advance(timedelta(seconds=1))
    later = client.post("/companies", json={"name": "A"}, headers=headers)
    assert later.status_code == 200 and later.json()["id"] != first["id"]
    assert "Idempotent-Replayed" not in later.headers
    # The expired row was replaced, and a different body is no longer a mismatch once expired.
    assert len(rows(database)) == 1
    clock.advance(timedelta(minutes=91))
    assert client.post("/companies", json={"name": "B"}, headers=headers).status_code == 200


def test_keys_are_scoped_per_api_key(app: FastAPI, client: TestClient, database: Database,
                                     clock: FrozenClock) -> None:
    with database.unit_of_work() as session:
        _, other_key = api_keys.create(session, clock, "other")
    headers = key()
    mine = client.post("/companies", json={"name": "A"}, headers=headers).json()
    with TestClient(app, headers={"Authorization": basic(other_key)}) as other:
        theirs = other.post("/companies", json={"name": "A"}, headers=headers)
        assert theirs.status_code == 200 and theirs.json()["id"] != mine["id"]
        # And a different body under the other key is not a mismatch either.
        assert other.post("/companies", json={"name": "Z"}, headers=key()).status_code == 200
    assert companies(database) == 3


# --- what the middleware leaves alone ----------------------------------------------------------

def test_only_post_and_patch_of_the_public_api_with_a_valid_key(
    client: TestClient, anon_client: TestClient, counter: Counter, database: Database
) -> None:
    headers = key()
    # Other surfaces: never replayed.
    assert client.post("/link/test-only/echo", headers=headers).json() == {"calls": 1}
    assert client.post("/link/test-only/echo", headers=headers).json() == {"calls": 2}
    # PUT and DELETE ignore the header.
    cid = client.post("/companies", json={"name": "A"}).json()["id"]
    assert client.put(f"/companies/{cid}", json={"name": "B"}, headers=headers).status_code == 200
    assert client.put(f"/companies/{cid}", json={"name": "C"}, headers=headers).json()["name"] == "C"
    # Unauthenticated: 401 from the route, nothing kept.
    r = anon_client.post("/companies", json={"name": "A"}, headers=headers)
    assert r.status_code == 401 and r.json()["statusCode"] == 401
    r = anon_client.post("/companies", json={"name": "A"}, headers={**headers, "Authorization": basic("nope")})
    assert r.status_code == 401
    # An empty key is no key.
    assert client.post("/companies/test-only/echo", headers={"Idempotency-Key": " "}).json()["calls"] == 3
    assert client.post("/companies/test-only/echo", headers={"Idempotency-Key": " "}).json()["calls"] == 4
    assert rows(database) == []


def test_long_keys_and_chunked_bodies(client: TestClient, counter: Counter) -> None:
    long_key = {"Idempotency-Key": "k" * 4000}

    def chunks() -> Iterator[bytes]:
        yield b'{"pad": "'
        yield b"x" * 5000
        yield b'"}'

    first = client.post("/companies/test-only/echo", content=chunks(), headers=long_key)
    again = client.post("/companies/test-only/echo", content=chunks(), headers=long_key)
    assert first.json() == again.json() == {"calls": 1, "bytes": 5011}


def test_oversize_body_is_413_and_reserves_nothing(app: FastAPI, api_key: str, database: Database,
                                                   settings: Settings) -> None:
    big = b'{"name": "' + b"x" * settings.max_body_bytes + b'"}'
    with TestClient(app, headers={"Authorization": basic(api_key)}) as c:
        r = c.post("/companies", content=big, headers={**key(), "Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["statusCode"] == 413
        r = c.post("/companies", content=iter([big[:1000], big[1000:]]), headers=key())
        assert r.status_code == 413 and r.json()["statusCode"] == 413
    assert rows(database) == [] and companies(database) == 0


# --- in flight, abandoned, lost ----------------------------------------------------------------

# Owner locks live outside the request's transaction (an advisory lock on a connection of their own,
# a file lock) and these tests race requests against them: real commits, as in production.
OWNER_LOCKS = pytest.mark.committed_database

def reserve(database: Database, clock: FrozenClock, settings: Settings, api_key_id: uuid.UUID,
            raw_key: str, method: str, path: str, body: bytes, *, lock: bool = True) -> service.Outcome:
    """As the middleware reserves; ``lock``: whether this caller holds the key's owner lock."""
    with database.unit_of_work() as session:
        return service.reserve(session, clock, settings, api_key_id, service.key_hash(raw_key),
                               service.request_hash(method, path, b"", body), owner_lock_held=lock)


def owner_lock(database: Database, raw_key: str) -> locks.Held:
    """Hold the owner lock of ``raw_key`` as a live request would; release() is its death."""
    held = locks.try_acquire(database, service.lock_name(api_key_id(database), service.key_hash(raw_key)))
    assert held is not None
    return held


def api_key_id(database: Database) -> uuid.UUID:
    with database.unit_of_work() as session:
        return api_keys.list_keys(session)[0].id


@OWNER_LOCKS
def test_in_flight_is_409_while_its_owner_lives_and_taken_over_once_it_is_gone(
    client: TestClient, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    body = b'{"name":"A"}'
    raw = str(uuid.uuid4())
    lock = owner_lock(database, raw)
    held = reserve(database, clock, settings, api_key_id(database), raw, "POST", "/companies", body)
    assert isinstance(held, service.Reserved)
    send = lambda: client.post("/companies", content=body,  # noqa: E731
                               headers={"Idempotency-Key": raw, "Content-Type": "application/json"})
    busy = send()
    assert busy.status_code == 409 and "in progress" in busy.json()["error"]
    clock.advance(timedelta(minutes=30))  # however long a live owner takes, it keeps the key
    assert send().status_code == 409
    lock.release()                        # the owner dies: at once, with no waiting period
    taken = send()                       # nothing committed under the dead reservation: run it
    assert taken.status_code == 200 and companies(database) == 1
    assert send().json() == taken.json()


@OWNER_LOCKS
def test_committed_without_a_stored_response_is_never_rerun(
    client: TestClient, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    body = b'{"name":"A"}'
    raw = str(uuid.uuid4())
    lock = owner_lock(database, raw)
    held = reserve(database, clock, settings, api_key_id(database), raw, "POST", "/companies", body)
    assert isinstance(held, service.Reserved)
    # The request's work commits (marking the key in the same transaction), then the process dies.
    with service.attempt(held.row_id), database.unit_of_work() as session:
        session.add(Company(id=uuid.uuid4(), name="A", tags={}, products=[], created_at=clock.now()))
    assert [r.state for r in rows(database)] == ["committed"]
    r = client.post("/companies", content=body, headers={"Idempotency-Key": raw, "Content-Type": "application/json"})
    assert r.status_code == 409 and "in progress" in r.json()["error"]  # still alive: finishing
    lock.release()
    r = client.post("/companies", content=body, headers={"Idempotency-Key": raw, "Content-Type": "application/json"})
    assert r.status_code == 409 and "could not be recorded" in r.json()["error"]
    assert companies(database) == 1


@OWNER_LOCKS
def test_marker_is_part_of_the_request_transaction(database: Database, clock: FrozenClock,
                                                   settings: Settings, api_key: str) -> None:
    held = reserve(database, clock, settings, api_key_id(database), "k", "POST", "/companies", b"{}")
    assert isinstance(held, service.Reserved)
    with pytest.raises(RuntimeError), service.attempt(held.row_id), database.unit_of_work() as session:
        session.add(Company(id=uuid.uuid4(), name="A", tags={}, products=[], created_at=clock.now()))
        session.flush()
        raise RuntimeError("the endpoint failed")
    assert [r.state for r in rows(database)] == ["in_flight"] and companies(database) == 0


@OWNER_LOCKS
def test_a_request_taken_over_cannot_commit_afterwards(database: Database, clock: FrozenClock,
                                                       settings: Settings, api_key: str) -> None:
    kid = api_key_id(database)
    slow = reserve(database, clock, settings, kid, "k", "POST", "/companies", b"{}")
    # Its lock connection is lost though the request runs on: a retry takes the lock and the key.
    retry = reserve(database, clock, settings, kid, "k", "POST", "/companies", b"{}")
    assert isinstance(slow, service.Reserved) and isinstance(retry, service.Reserved)
    assert slow.row_id != retry.row_id
    # The presumed-dead request wakes up and tries to commit: refused, its work rolled back.
    with pytest.raises(Conflict), service.attempt(slow.row_id), database.unit_of_work() as session:
        session.add(Company(id=uuid.uuid4(), name="late", tags={}, products=[], created_at=clock.now()))
    assert companies(database) == 0


@OWNER_LOCKS
def test_mismatch_wins_over_in_flight(database: Database, clock: FrozenClock, settings: Settings,
                                      api_key: str) -> None:
    kid = api_key_id(database)
    assert isinstance(reserve(database, clock, settings, kid, "k", "POST", "/companies", b"{}"), service.Reserved)
    assert isinstance(reserve(database, clock, settings, kid, "k", "POST", "/companies", b"{}", lock=False),
                      service.InProgress)
    assert isinstance(reserve(database, clock, settings, kid, "k", "POST", "/companies", b"[]", lock=False),
                      service.Mismatch)


# --- races between concurrent requests -----------------------------------------------------------

@OWNER_LOCKS
def test_concurrent_reservations_one_wins(database: Database, clock: FrozenClock, settings: Settings,
                                          api_key: str) -> None:
    kid = api_key_id(database)
    threads = 8

    def attempt() -> service.Outcome:
        held = locks.try_acquire(database, service.lock_name(kid, service.key_hash("race")))
        # The winner keeps its lock (it is still running); the others never had one.
        return reserve(database, clock, settings, kid, "race", "POST", "/companies", b"{}",
                       lock=held is not None)

    outcomes = at_once(*[attempt] * threads)
    assert sum(isinstance(o, service.Reserved) for o in outcomes) == 1
    assert sum(isinstance(o, service.InProgress) for o in outcomes) == threads - 1
    assert len(rows(database)) == 1


@OWNER_LOCKS
def test_concurrent_http_requests_run_once(app: FastAPI, api_key: str, database: Database) -> None:
    entered, release = threading.Event(), threading.Event()
    calls = Counter()

    @app.post("/companies/test-only/slow")
    def slow() -> dict[str, int]:
        n = calls.hit()
        entered.set()
        release.wait(10)
        return {"calls": n}

    threads = 6
    barrier = threading.Barrier(threads)
    headers = {"Authorization": basic(api_key), **key()}
    with LiveServer(app) as server, ThreadPoolExecutor(threads) as pool:
        def send(_: int) -> httpx.Response:
            barrier.wait(timeout=10)
            return httpx.post(server.url + "/companies/test-only/slow", json={}, headers=headers, timeout=20)

        futures = [pool.submit(send, i) for i in range(threads)]
        assert entered.wait(10)
        # Everyone but the request that won the reservation is told it is in progress...
        deadline = time.monotonic() + 10
        while sum(f.done() for f in futures) < threads - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = [f.result() for f in futures if f.done()]
        assert len(refused) == threads - 1
        assert all(r.status_code == 409 for r in refused), [r.text for r in refused]
        release.set()
        results = [f.result(timeout=10) for f in futures]
        assert sorted(r.status_code for r in results) == [200] + [409] * (threads - 1)
        # ...and once it has finished, the same request gets its response back.
        replay = httpx.post(server.url + "/companies/test-only/slow", json={}, headers=headers, timeout=20)
        assert replay.status_code == 200 and replay.json() == {"calls": 1}
    assert calls.calls == 1


# --- purge ------------------------------------------------------------------------------------

def test_worker_purges_expired_keys(client: TestClient, database: Database, clock: FrozenClock,
                                    settings: Settings) -> None:
    purge = [t for t in registry.tasks() if t.name == "purge_expired_keys"]
    assert len(purge) == 1 and getattr(purge[0], "poll_seconds", None) == 60.0
    client.post("/companies", json={"name": "old"}, headers=key())
    clock.advance(timedelta(minutes=60))
    client.post("/companies", json={"name": "new"}, headers=key())
    ctx = TaskContext(database, settings, clock)
    assert purge_expired_keys.run_once(ctx) == 0
    clock.advance(timedelta(minutes=31))
    assert purge_expired_keys.run_once(ctx) == 1
    assert len(rows(database)) == 1
    clock.advance(timedelta(minutes=60))
    with database.unit_of_work() as session:
        assert IdempotencyRepository(session).purge_expired(clock.now(), limit=10) == 1
    assert rows(database) == []


def test_commits_outside_requests_leave_keys_alone(database: Database, clock: FrozenClock) -> None:
    # Commits outside any request never touch idempotency rows.
    make_company(database, clock)
    assert rows(database) == [] and companies(database) == 1


def test_database_outage_while_reserving_is_503(client: TestClient, database: Database,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    from bankfeeds.idempotency.middleware import IdempotencyMiddleware

    def outage(*args: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(IdempotencyMiddleware, "_reserve", outage)
    r = client.post("/companies", json={"name": "A"}, headers=key())
    assert r.status_code == 503 and r.json()["canBeRetried"] == "True" and r.json()["statusCode"] == 503
    assert companies(database) == 0


def test_applies_to_the_public_api_paths_only(app: FastAPI, client: TestClient) -> None:
    from bankfeeds.idempotency.middleware import IdempotencyMiddleware

    client.get("/healthz")  # builds the middleware stack
    middleware = IdempotencyMiddleware(app, database=app.state.database, settings=app.state.settings,
                                       clock=app.state.clock, surfaces=app.state.surfaces)
    for path in ["/companies", "/companies/x/connections", "/webhooks"]:
        assert middleware.applies_to(path), path
    for path in ["/link", "/link/companies/x", "/sandbox/x", "/demo", "/partners/intuit/idx/accounts",
                 "/healthz", "/docs"]:
        assert not middleware.applies_to(path), path
