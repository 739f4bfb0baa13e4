"""Webhooks are not an SSRF channel (issue 9, item 6): non-public targets are refused when a
consumer is created and again at delivery, after DNS resolution, unless
BANKFEEDS_WEBHOOKS_ALLOW_PRIVATE_TARGETS (or demo mode) allows them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bankfeeds.app import create_app
from bankfeeds.config import Settings
from bankfeeds.kit import netguard
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import WebhookAttempt, WebhookConsumer
from tests.fixtures.app import basic, make_settings
from tests.webhooks.conftest import make_worker
from tests.webhooks.receiver import Receiver

REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost:5432/",
    "http://LOCALHOST./x",
    "http://app.localhost/x",
    "http://127.0.0.1:8000/hook",
    "http://[::1]:8000/",
    "http://[::ffff:127.0.0.1]/",
    "http://0x7f000001:8000/",
    "http://2130706433/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://0.0.0.0/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://224.0.0.1/",
    "https://user:pass@hooks.example.com/in",
    "https://token@hooks.example.com/in",
]


@pytest.fixture
def strict_settings(db_url: str) -> Settings:
    return make_settings(db_url)  # the default: private targets refused


@pytest.fixture
def strict(strict_settings: Settings, clock: FrozenClock, database: Database, api_key: str) -> Iterator[TestClient]:
    app: FastAPI = create_app(strict_settings, clock=clock, database=database, run_worker=False)
    with TestClient(app, headers={"Authorization": basic(api_key)}, raise_server_exceptions=False) as c:
        yield c


def consumers(database: Database) -> int:
    with database.unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(WebhookConsumer)) or 0)


@pytest.mark.parametrize("url", REFUSED)
def test_non_public_targets_and_url_credentials_are_refused_at_create_time(
    strict: TestClient, database: Database, url: str
) -> None:
    r = strict.post("/webhooks", json={"url": url, "eventTypes": ["company.created"]})
    assert r.status_code == 400, (url, r.text)
    assert r.json()["service"] == "PublicApi" and "url" in r.json()["error"]
    assert consumers(database) == 0


def test_public_targets_are_accepted(strict: TestClient, database: Database) -> None:
    for url in ("https://hooks.example.com/in", "https://8.8.8.8/in", "http://[2001:4860:4860::8888]/x"):
        assert strict.post("/webhooks", json={"url": url, "eventTypes": ["company.created"]}).status_code == 201
    assert consumers(database) == 3


def test_the_setting_allows_a_receiver_on_this_machine(client: TestClient, receiver: Receiver) -> None:
    # tests/webhooks/conftest.py sets BANKFEEDS_WEBHOOKS_ALLOW_PRIVATE_TARGETS for its receivers.
    r = client.post("/webhooks", json={"url": receiver.url, "eventTypes": ["company.created"]})
    assert r.status_code == 201
    # URL credentials stay refused even then.
    r = client.post("/webhooks", json={"url": "http://u:p@127.0.0.1:1/", "eventTypes": ["company.created"]})
    assert r.status_code == 400


def test_delivery_checks_the_resolved_address_again(
    client: TestClient, receiver: Receiver, database: Database, strict_settings: Settings, clock: FrozenClock
) -> None:
    # Registered while allowed (or resolving to a public address then: DNS rebinding), delivered
    # by a worker under the default rules: "localhost" resolves to loopback, and is refused.
    url = receiver.url.replace("127.0.0.1", "localhost")
    r = client.post("/webhooks", json={"url": url, "eventTypes": ["company.created"]})
    assert r.status_code == 201, r.text
    assert client.post("/companies", json={"name": "Acme"}).status_code == 200
    worker = make_worker(database, strict_settings, clock)
    try:
        worker.drain()
    finally:
        worker.close()
    assert receiver.snapshot() == []
    with database.unit_of_work() as s:
        attempts = list(s.scalars(select(WebhookAttempt)))
    assert attempts and all(a.status_code is None and "not a public address" in (a.error or "") for a in attempts)
    assert all(a.response in ("", None) for a in attempts)


def test_guarded_transport_refuses_every_non_public_resolution() -> None:
    import httpx

    with httpx.Client(transport=netguard.guarded_transport(allow_private=False), trust_env=False) as c:
        for url in ("http://127.0.0.1:9/", "http://localhost:9/", "http://0x7f000001:9/", "http://[::1]:9/"):
            with pytest.raises(httpx.ConnectError, match="not a public address"):
                c.get(url)
