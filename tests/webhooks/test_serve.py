"""`bankfeeds serve` runs the worker by default: a real server delivers webhooks on its own."""

from __future__ import annotations

import httpx

from bankfeeds.app import create_app
from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.app import LiveServer, basic
from tests.webhooks.receiver import Receiver


def test_the_server_delivers_without_a_separate_worker(
    settings: Settings, clock: FrozenClock, database: Database, api_key: str, receiver: Receiver
) -> None:
    app = create_app(settings.model_copy(update={"worker_poll_seconds": 30.0}), clock=clock, database=database,
                     run_worker=True)
    with LiveServer(app) as server:
        client = httpx.Client(base_url=server.url, headers={"Authorization": basic(api_key)}, timeout=60)
        r = client.post("/webhooks", json={"url": receiver.url, "eventTypes": ["company.created"]})
        assert r.status_code == 201
        receiver.secret = r.json()["signingSecret"]
        assert client.post("/companies", json={"name": "Live Co"}).status_code == 200
        # The commit wakes the in-process worker: no drain() here, and the poll interval is 30 s.
        [got] = receiver.wait_for(lambda items: len(items) == 1, timeout=20)
        assert got.verified and got.event["payload"]["name"] == "Live Co"
        client.close()
