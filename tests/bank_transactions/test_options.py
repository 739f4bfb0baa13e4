"""get-create-bank-transactions-model: the PushOption describing the platform's fields."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.bank_transactions.helpers import options_url
from tests.fixtures.factories import make_linked_feed


def fields(body: dict[str, Any]) -> dict[str, Any]:
    assert body["type"] == "Object" and body["required"] is True and body["displayName"]
    assert body["properties"]["accountId"]["required"] is True
    transactions = body["properties"]["transactions"]
    assert transactions["type"] == "Array" and transactions["required"] is True
    return transactions["properties"]  # type: ignore[no-any-return]


def test_quickbooks_model(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    r = client.get(options_url(company, connection))
    assert r.status_code == 200, r.text
    props = fields(r.json())
    assert {name for name, p in props.items() if p["required"]} == {"id", "date", "description", "amount", "balance"}
    assert [o["value"] for o in props["transactionType"]["options"]] == ["Credit", "Debit", "Unknown"]
    assert props["date"]["type"] == "DateTime" and props["amount"]["type"] == "Number"
    assert props["reconciled"]["type"] == "Boolean"
    assert "not used" in props["counterparty"]["validation"]["information"][0]["details"]
    for prop in props.values():
        assert prop["displayName"] and prop["description"] and isinstance(prop["required"], bool)
    assert any("1000" in i["details"] for i in r.json()["validation"]["information"])


def test_xero_model(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock, platform_key="gbol")
    props = fields(client.get(options_url(company, connection)).json())
    assert {name for name, p in props.items() if p["required"]} == {"id", "date", "amount", "balance"}
    assert len(props["transactionType"]["options"]) == 18
    assert any("365 days" in i["details"] for i in props["date"]["validation"]["information"])
    assert "validation" not in props["counterparty"]


def test_unknown_ids_are_404(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    for url in [options_url(str(uuid.uuid4()), connection), options_url("x", connection),
                options_url(company, str(uuid.uuid4())), options_url(company, "x"),
                options_url(company, connection, "acc-404")]:
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.json()["statusCode"] == 404
