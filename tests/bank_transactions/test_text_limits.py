"""Texts are bounded on write (issue 9, item 3): Xero's limits for transactions (description 2000,
payee and reference 255), Codat's 200 for ids; over the limit is a clear 400 in the envelope."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.bank_transactions.helpers import post, stored, txn, write_url
from tests.fixtures.factories import make_linked_feed


@pytest.mark.parametrize(("field", "limit"), [("description", 2000), ("counterparty", 255),
                                              ("reference", 255), ("id", 200)])
def test_transaction_texts_are_bounded(client: TestClient, database: Database, clock: FrozenClock,
                                       field: str, limit: int) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    url = write_url(company, connection)
    over = post(client, url, {"accountId": "acc-1", "transactions": [txn(1, **{field: "a" * (limit + 1)})]})
    assert over.status_code == 400, over.text
    body = over.json()
    assert body["statusCode"] == 400 and body["service"] == "PublicApi"
    assert f"transactions.0.{field}" in body["error"] and str(limit) in body["error"]
    assert stored(database) == []
    at = post(client, url, {"accountId": "acc-1", "transactions": [txn(1, **{field: "a" * limit})]})
    assert at.status_code == 200 and at.json()["status"] == "Success", at.text


def test_a_megabyte_description_is_refused_whole(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    r = post(client, write_url(company, connection),
             {"accountId": "acc-1", "transactions": [txn(1, description="x" * 1_900_000)]})
    assert r.status_code == 400 and r.json()["statusCode"] == 400
    assert stored(database) == []


def test_company_texts_are_bounded(client: TestClient) -> None:
    assert client.post("/companies", json={"name": "a" * 501}).status_code == 400
    assert client.post("/companies", json={"name": "a", "description": "d" * 4001}).status_code == 400
    assert client.post("/companies", json={"name": "a" * 500, "description": "d" * 4000}).status_code == 200
