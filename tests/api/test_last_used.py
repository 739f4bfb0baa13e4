"""An API key's "last used" is kept, cheaply: one write a minute per key at most, not one per request."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.kit.clock import FrozenClock, utc
from bankfeeds.kit.db import Database
from bankfeeds.models import ApiKey


def last_used(database: Database) -> datetime | None:
    with database.unit_of_work() as session:
        value = session.scalars(select(ApiKey.last_used_at).where(ApiKey.name == "tests")).one()
        return utc(value) if value else None


def test_last_used_is_recorded_at_most_once_a_minute(client: TestClient, database: Database,
                                                     clock: FrozenClock) -> None:
    assert last_used(database) is None
    first = clock.now()
    assert client.get("/companies").status_code == 200
    assert last_used(database) == first
    clock.advance(timedelta(seconds=59))
    assert client.get("/companies").status_code == 200
    assert last_used(database) == first  # within the minute: not written again
    clock.advance(timedelta(seconds=2))
    assert client.post("/companies", json={"name": "Acme"}).status_code == 200
    assert last_used(database) == clock.now()


def test_a_refused_key_is_not_marked_used(anon_client: TestClient, database: Database, api_key: str) -> None:
    assert anon_client.get("/companies", headers={"Authorization": "Basic bm9wZQ=="}).status_code == 401
    assert last_used(database) is None
