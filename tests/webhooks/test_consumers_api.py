"""``/webhooks`` as Codat's Platform API documents it, plus the bankfeeds extensions."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from svix.webhooks import Webhook

from bankfeeds.config import Settings
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import WebhookConsumer
from bankfeeds.webhooks import service as webhooks
from tests.fixtures.specs import SPECS

# Codat's Platform spec, trimmed to the /webhooks operations (see test_contract.py).
SPEC = SPECS / "Codat-Platform-webhooks.json"


def _schema(pointer: str) -> dict[str, Any]:
    spec = json.loads(SPEC.read_text())
    return {"$ref": pointer, "components": spec["components"]}


def assert_matches(instance: Any, pointer: str) -> None:
    jsonschema_rs.validator_for(_schema(pointer)).validate(instance)


BODY = {"url": "https://bank.example/hooks", "eventTypes": ["company.created", "connection.connected"]}


def test_create_list_delete(client: TestClient) -> None:
    r = client.post("/webhooks", json={**BODY, "companyTags": ["region:uk"]})
    assert r.status_code == 201, r.text
    created = r.json()
    assert_matches(created, "#/components/schemas/WebhookConsumer")
    assert created["url"] == BODY["url"] and created["eventTypes"] == BODY["eventTypes"]
    assert created["disabled"] is False and created["companyTags"] == ["region:uk"]
    secret = created["signingSecret"]
    assert secret.startswith("whsec_")
    Webhook(secret)  # a secret the svix library accepts

    listed = client.get("/webhooks")
    assert listed.status_code == 200
    assert_matches(listed.json(), "#/components/schemas/WebhookConsumer/definitions/webhookConsumers")
    [item] = listed.json()["results"]
    assert item == {k: v for k, v in created.items() if k != "signingSecret"}

    assert client.delete(f"/webhooks/{created['id']}").status_code == 204
    assert client.get("/webhooks").json() == {"results": []}
    assert client.delete(f"/webhooks/{created['id']}").status_code == 404
    # The spec documents no 400 for delete: a malformed id is simply not found.
    r = client.delete("/webhooks/not-a-uuid")
    assert r.status_code == 404 and r.json()["statusCode"] == 404


def test_the_secret_is_stored_encrypted(client: TestClient, database: Database) -> None:
    created = client.post("/webhooks", json=BODY).json()
    with database.unit_of_work() as session:
        row = session.get(WebhookConsumer, uuid.UUID(created["id"]))
        assert row is not None
        stored = row.secret_encrypted
    assert created["signingSecret"] not in stored
    assert created["signingSecret"].removeprefix("whsec_") not in stored


def test_created_disabled(client: TestClient) -> None:
    r = client.post("/webhooks", json={**BODY, "disabled": True, "companyTags": None})
    assert r.status_code == 201 and r.json()["disabled"] is True
    assert "companyTags" not in r.json()
    assert_matches(r.json(), "#/components/schemas/WebhookConsumer")
    assert_matches(client.get("/webhooks").json(), "#/components/schemas/WebhookConsumer/definitions/webhookConsumers")


@pytest.mark.parametrize("body", [
    {},
    {"eventTypes": ["company.created"]},
    {"url": "https://bank.example/hooks"},
    {"url": "https://bank.example/hooks", "eventTypes": []},
    {"url": "https://bank.example/hooks", "eventTypes": ["DataSyncCompleted"]},
    {"url": "ftp://bank.example/hooks", "eventTypes": ["company.created"]},
    {"url": "not a url", "eventTypes": ["company.created"]},
    {"url": "https://", "eventTypes": ["company.created"]},
    {"url": 5, "eventTypes": ["company.created"]},
    {"url": "https://bank.example/hooks", "eventTypes": "company.created"},
    {"url": "https://bank.example/hooks", "eventTypes": ["company.created"], "disabled": "yes"},
    {"url": "https://bank.example/hooks", "eventTypes": ["company.created"], "companyTags": ["nocolon"]},
    {"url": "https://bank.example/hooks", "eventTypes": ["company.created"], "companyTags": [":v"]},
    {"url": "https://bank.example/hooks", "eventTypes": ["company.created"], "companyTags": ["k:" + "v" * 127]},
    {"url": "https://bank.example/hooks", "eventTypes": ["company.created"],
     "companyTags": [f"k{i}:v" for i in range(11)]},
])
def test_bad_bodies_are_400_and_create_nothing(client: TestClient, body: dict[str, Any]) -> None:
    r = client.post("/webhooks", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["statusCode"] == 400 and r.json()["error"]
    assert client.get("/webhooks").json() == {"results": []}


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post("/webhooks", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_at_most_50_consumers(client: TestClient, database: Database, settings: Settings) -> None:
    with database.unit_of_work() as session:
        for i in range(49):
            webhooks.add(session, SystemClock(), settings, f"https://bank.example/{i}", ["company.created"])
    assert client.post("/webhooks", json=BODY).status_code == 201
    r = client.post("/webhooks", json=BODY)
    assert r.status_code == 400 and "50" in r.json()["error"]


def test_requires_an_api_key(anon_client: TestClient) -> None:
    assert anon_client.get("/webhooks").status_code == 401
    assert anon_client.post("/webhooks", json=BODY).status_code == 401


def test_disable_enable_and_rotate(client: TestClient) -> None:
    created = client.post("/webhooks", json=BODY).json()
    cid = created["id"]
    r = client.post(f"/webhooks/{cid}/disable")
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert client.get("/webhooks").json()["results"][0]["disabled"] is True
    r = client.post(f"/webhooks/{cid}/enable")
    assert r.status_code == 200 and r.json()["disabled"] is False

    r = client.post(f"/webhooks/{cid}/secret/rotate")
    assert r.status_code == 200
    assert r.json()["signingSecret"].startswith("whsec_")
    assert r.json()["signingSecret"] != created["signingSecret"]
    assert r.json()["previousSecretExpires"] == "2026-11-25T15:00:00Z"
    assert client.post(f"/webhooks/{uuid.uuid4()}/enable").status_code == 404


def test_extensions_are_marked_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    ops = {op["operationId"]: op for p in paths.values() for op in p.values() if isinstance(op, dict)
           and "operationId" in op}
    for codat_op in ("list-webhook-consumers", "create-webhook-consumer", "delete-webhook-consumer"):
        assert not ops[codat_op].get("x-bankfeeds-extension")
    extensions = [k for k, op in ops.items() if op.get("x-bankfeeds-extension")]
    assert "bankfeeds-resend-webhook-message" in extensions
    assert all(k.startswith("bankfeeds-") for k in extensions)
