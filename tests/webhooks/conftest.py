from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.webhooks.config import DeliveryOptions
from bankfeeds.webhooks.events import EVENT_TYPES
from bankfeeds.webhooks.tasks import deliver_messages, dispatch_events
from bankfeeds.worker.runner import Worker
from tests.fixtures.app import make_settings
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(db_url: str) -> Settings:
    # The receiver listens on 127.0.0.1: allowed only with this setting (SSRF rules).
    return make_settings(db_url, webhooks_allow_private_targets=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def make_worker(database: Database, settings: Settings, clock: FrozenClock, **options: Any) -> Worker:
    opts = DeliveryOptions.from_settings(settings, **{"timeout_seconds": 5.0, "concurrency": 4, **options})
    return Worker(database, settings, clock, tasks=[dispatch_events, deliver_messages(opts)])


@pytest.fixture
def worker(database: Database, settings: Settings, clock: FrozenClock) -> Iterator[Worker]:
    """The webhook tasks only, driven by hand with drain()."""
    w = make_worker(database, settings, clock)
    yield w
    w.close()


def subscribe(
    client: TestClient, receiver: Receiver, event_types: tuple[str, ...] | list[str] = EVENT_TYPES, **extra: Any
) -> dict[str, Any]:
    r = client.post("/webhooks", json={"url": receiver.url, "eventTypes": list(event_types), **extra})
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["signingSecret"]
    return dict(r.json())
