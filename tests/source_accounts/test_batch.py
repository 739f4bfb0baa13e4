"""create-batch-source-account: 201 all created, 207 mixed, 409 every item conflicted."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.source_accounts.helpers import V1, V2, accounts_url, assert_error, create, exact, feed, send


def test_all_created_is_201_with_each_shape(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection)
    raw = (
        '[{"id":"a1","accountName":"A","accountType":"checking","accountNumber":"1","currency":"USD",'
        '"balance":12345678901234.5678},'
        '{"id":"a2","accountType":"Credit","currency":"EUR","balance":-0.0001}]'
    )
    r = send(client, "POST", url + "/batch", raw)
    assert r.status_code == 201, r.text
    items = exact(r)
    assert [i["sourceAccountId"] for i in items] == ["a1", "a2"]
    for item in items:
        assert item["result"]["statusCode"] == 201 and item["result"]["error"] is None
    assert items[0]["result"]["account"]["balance"] == Decimal("12345678901234.5678")
    assert "accountInfo" in items[0]["result"]["account"]  # v2
    assert items[1]["result"]["account"]["balance"] == Decimal("-0.0001")
    assert "accountInfo" not in items[1]["result"]["account"]  # v1
    assert items[1]["result"]["account"]["status"] == "pending"
    assert [a["id"] for a in client.get(url).json()] == ["a1", "a2"]


def test_mixed_is_207_with_string_status_code_on_errors(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection)
    create(client, company, connection, V1)
    r = client.post(url + "/batch", json=[V1, V2, {**V2, "accountName": "again"}])
    assert r.status_code == 207, r.text
    conflict, created, repeated = r.json()
    assert conflict == {"sourceAccountId": "acc-v1",
                        "result": {"statusCode": "409", "error": "A bank account already exists with the same Id"}}
    assert created["result"]["statusCode"] == 201 and created["result"]["account"]["id"] == "acc-v2"
    # An id repeated inside the batch conflicts with the first one.
    assert repeated["sourceAccountId"] == "acc-v2" and repeated["result"]["statusCode"] == "409"
    listed = client.get(url).json()
    assert sorted(a["id"] for a in listed) == ["acc-v1", "acc-v2"]
    assert next(a for a in listed if a["id"] == "acc-v2")["accountName"] == "Checking"
    assert next(a for a in listed if a["id"] == "acc-v1")["accountName"] == "Business Current"


def test_every_item_conflicting_is_409(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection)
    create(client, company, connection, V1)
    create(client, company, connection, V2)
    r = client.post(url + "/batch", json=[{**V2, "balance": 5}, V1])
    assert r.status_code == 409, r.text
    assert [(i["sourceAccountId"], i["result"]["statusCode"]) for i in r.json()] == [("acc-v2", "409"),
                                                                                     ("acc-v1", "409")]
    assert all("account" not in i["result"] for i in r.json())
    assert next(a for a in client.get(url).json() if a["id"] == "acc-v2")["balance"] == 10


def test_empty_batch_is_201_and_creates_nothing(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    r = client.post(accounts_url(company, connection) + "/batch", json=[])
    assert r.status_code == 201 and r.json() == []


def test_one_bad_item_fails_the_whole_batch(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection)
    for raw, needle in [
        (b"{", "not valid JSON"),
        (b"", "empty"),
        (b'{"id": "a"}', "JSON array"),
        (b'[{"id": "a"}, 5]', "index 1"),
        (b'[{"id": "a"}, {"id": "b", "currency": "pounds"}]', "index 1"),
        (b'[{"id": "a", "accountType": "checking"}]', "accountName"),
        (b'[{"id": "a", "currency": "GBP"}]', "sortCode"),
        (b'[{"id": "a", "unknown": 1}]', "unknown"),
        (b'[{"id": "a", "balance": "1.00"}]', "balance"),
    ]:
        assert_error(send(client, "POST", url + "/batch", raw), 400, needle)
    assert client.get(url).json() == []
