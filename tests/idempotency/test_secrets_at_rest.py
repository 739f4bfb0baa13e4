"""Responses kept for Idempotency-Key replays are encrypted at rest: the credentials, webhook
signing secret and one-time password they carry are not readable in the database, and the
replay still returns them."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import IdempotencyKey
from tests.fixtures.app import make_settings
from tests.fixtures.factories import make_company, make_connection
from tests.idx.helpers import credentials_path


def stored_bodies(database: Database) -> list[bytes]:
    with database.unit_of_work() as session:
        return [row.body or b"" for row in session.scalars(select(IdempotencyKey))]


@pytest.fixture
def settings(db_url: str) -> Settings:
    # Webhook URLs on this machine are refused otherwise (SSRF rules); not what this test is about.
    return make_settings(db_url, webhooks_allow_private_targets=True)


def _post(client: TestClient, path: str, body: bytes, key: str) -> dict[str, object]:
    r = client.post(path, content=body, headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    assert r.status_code in (200, 201), r.text
    again = client.post(path, content=body, headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == r.json()  # the replay still carries the secret
    got: dict[str, object] = r.json()
    return got


def test_secrets_in_kept_responses_are_not_readable_at_rest(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company = make_company(database, clock)
    connection = make_connection(database, clock, company)
    creds = _post(client, credentials_path(connection), b"{}", str(uuid.uuid4()))
    hook = _post(client, "/webhooks", b'{"url": "https://hooks.example.com/in", "eventTypes": ["company.created"]}',
                 str(uuid.uuid4()))
    other = make_company(database, clock, "Other Ltd")
    created = _post(client, f"/companies/{other.id}/connections", b'{"platformKey": "hcws"}', str(uuid.uuid4()))
    otp = urlsplit(str(created["linkUrl"])).query.split("otp=", 1)[1]
    secrets = [str(creds["username"]), str(creds["password"]), str(hook["signingSecret"]), otp]
    bodies = stored_bodies(database)
    assert len(bodies) == 3
    for secret in secrets:
        assert len(secret) >= 6
        for body in bodies:
            assert secret.encode() not in body, secret
    assert all(b"{" not in body for body in bodies)  # not the JSON in clear


def test_a_rotated_key_still_replays_and_a_dropped_key_does_not(
    app: object, database: Database, clock: FrozenClock, db_url: str, api_key: str
) -> None:
    from bankfeeds.app import create_app
    from tests.fixtures.app import basic

    def client_with(**overrides: object) -> TestClient:
        s = make_settings(db_url, webhooks_allow_private_targets=True, **overrides)
        return TestClient(create_app(s, clock=clock, database=database, run_worker=False),
                          headers={"Authorization": basic(api_key)}, raise_server_exceptions=False)

    key = str(uuid.uuid4())
    with client_with() as first:
        r = first.post("/companies", json={"name": "A"}, headers={"Idempotency-Key": key})
        assert r.status_code == 200
    with client_with(secret_key="new-key", secret_key_previous="test-secret-key") as rotated:
        again = rotated.post("/companies", json={"name": "A"}, headers={"Idempotency-Key": key})
        assert again.json() == r.json() and again.headers.get("idempotent-replayed") == "true"
    with client_with(secret_key="new-key") as dropped:
        lost = dropped.post("/companies", json={"name": "A"}, headers={"Idempotency-Key": key})
        assert lost.status_code == 409 and "could not be recorded" in lost.json()["error"]
