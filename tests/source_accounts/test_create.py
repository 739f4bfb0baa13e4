"""create-source-account and list-source-accounts, in both shapes, with exact money."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.source_accounts.helpers import (
    V1,
    V2,
    accounts_url,
    assert_error,
    create,
    exact,
    feed,
    send,
    stored,
)


def test_create_v1_answers_the_v1_shape(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    body = create(client, company, connection, V1)
    assert body == {
        "id": "acc-v1", "accountName": "Business Current", "accountType": "Debit", "accountNumber": "12345670",
        "sortCode": "123456", "currency": "GBP", "balance": Decimal("99.99"),
        "modifiedDate": "2026-11-24T15:00:00Z", "status": "pending", "feedStartDate": None,
    }
    row = stored(database, connection, "acc-v1")
    assert row is not None and row.shape_version == 1 and row.balance == Decimal("99.99")


def test_create_v2_answers_the_v2_shape(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    body = create(client, company, connection, V2)
    assert body == {
        "id": "acc-v2", "accountName": "Checking", "accountType": "checking", "accountNumber": "98765432",
        "sortCode": None, "routingInfo": {"bankCode": "021001088", "type": "aba"},
        "currency": "USD", "balance": 10,
        "accountInfo": {"description": "Main account", "nickname": "Main", "accountOpenDate": "2023-05-06",
                        "availableBalance": Decimal("10.5")},
        "modifiedDate": "2026-11-24T15:00:00Z", "status": "pending", "feedStartDate": None,
    }
    row = stored(database, connection, "acc-v2")
    assert row is not None and row.shape_version == 2


def test_v2_is_detected_by_type_or_v2_objects(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    minimal = {"id": "a", "accountName": "n", "accountType": "savings", "accountNumber": "1", "currency": "USD",
               "balance": 0}
    assert "accountInfo" in create(client, company, connection, minimal)  # v2 shape always carries it
    # A v1 accountType with a v2 object is v2, and then must be a v2 type.
    r = client.post(accounts_url(company, connection), json={**minimal, "id": "b", "accountType": "Debit",
                                                             "routingInfo": {"bankCode": "1"}})
    assert_error(r, 400, "v2", "accountType")
    # routingInfo.type defaults to bankcode, as the spec says.
    body = create(client, company, connection, {**minimal, "id": "c", "routingInfo": {"bankCode": "9"}})
    assert body["routingInfo"] == {"bankCode": "9", "type": "bankcode"}
    # Free-text v1 types and a bare id are v1.
    v1 = create(client, company, connection, {"id": "d", "accountType": "Credit card"})
    assert v1["accountType"] == "Credit card" and "accountInfo" not in v1 and "currency" not in v1
    v1 = create(client, company, connection, {"id": "e"})
    assert v1["accountType"] is None and v1["balance"] is None and v1["status"] == "pending"


def test_balances_round_trip_exactly(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection)
    for account_id, text in [("big", "12345678901234.5678"), ("tiny", "-0.0001"), ("zero", "0"), ("neg", "-42.10")]:
        raw = (f'{{"id":"{account_id}","accountName":"n","accountType":"checking","accountNumber":"1",'
               f'"currency":"EUR","balance":{text},"accountInfo":{{"availableBalance":{text}}}}}')
        r = send(client, "POST", url, raw)
        assert r.status_code == 200, r.text
        assert f'"balance":{text},' in r.text
        assert exact(r)["balance"] == Decimal(text)
    listed = {a["id"]: a for a in exact(client.get(url))}
    assert listed["big"]["balance"] == Decimal("12345678901234.5678")
    assert listed["tiny"]["balance"] == Decimal("-0.0001")
    assert listed["tiny"]["accountInfo"]["availableBalance"] == Decimal("-0.0001")
    assert str(listed["neg"]["balance"]) == "-42.10"
    row = stored(database, connection, "big")
    assert row is not None and row.balance == Decimal("12345678901234.5678")


def test_list_is_a_bare_array_in_each_accounts_shape(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection)
    assert client.get(url).json() == []
    create(client, company, connection, V1)
    clock.advance(timedelta(seconds=1))
    create(client, company, connection, V2)
    listed = client.get(url).json()
    assert isinstance(listed, list) and [a["id"] for a in listed] == ["acc-v1", "acc-v2"]
    assert "accountInfo" not in listed[0] and "accountInfo" in listed[1]
    # Another connection's accounts are not listed.
    other_company, other = feed(database, clock)
    assert client.get(accounts_url(other_company, other)).json() == []


def test_duplicate_id_is_a_400_and_changes_nothing(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    create(client, company, connection, V1)
    r = client.post(accounts_url(company, connection), json={**V1, "accountName": "Other"})
    assert_error(r, 400, "already exists", "acc-v1")
    row = stored(database, connection, "acc-v1")
    assert row is not None and row.account_name == "Business Current"
    # The same id on another connection is fine.
    other_company, other = feed(database, clock)
    create(client, other_company, other, V1)


def test_gbp_requires_a_sort_code(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection)
    no_sort = {k: v for k, v in V1.items() if k != "sortCode"}
    assert_error(client.post(url, json=no_sort), 400, "sortCode is required for GBP")
    assert_error(client.post(url, json={**V1, "sortCode": "  "}), 400, "sortCode")
    v2_gbp = {**V2, "currency": "GBP"}
    assert_error(client.post(url, json=v2_gbp), 400, "sortCode")
    # A v2 routingInfo of type sortcode carries it too.
    ok = create(client, company, connection, {**v2_gbp, "routingInfo": {"bankCode": "123456", "type": "sortcode"}})
    assert ok["currency"] == "GBP"
    assert create(client, company, connection, {**no_sort, "id": "usd", "currency": "USD"})["currency"] == "USD"
    assert [a["id"] for a in client.get(url).json()] == ["acc-v2", "usd"]


BAD_BODIES: list[tuple[bytes, str]] = [
    (b"", "empty"),
    (b"{", "not valid JSON"),
    (b"[]", "JSON object"),
    (b'"acc"', "JSON object"),
    (b"{}", "id"),
    (b'{"id": 5}', "id"),
    (b'{"id": ""}', "id"),
    (b'{"id": "a/b"}', "id"),
    (b'{"id": "credentials"}', "reserved"),
    (b'{"id": "' + b"x" * 201 + b'"}', "id"),
    (b'{"id": "a", "balance": "10.00"}', "balance"),
    (b'{"id": "a", "balance": true}', "balance"),
    (b'{"id": "a", "balance": 1e400000}', "balance"),
    (b'{"id": "a", "balance": 0.00000000001}', "balance"),
    (b'{"id": "a", "currency": "gbp"}', "currency"),
    (b'{"id": "a", "currency": "ABC"}', "currency"),
    (b'{"id": "a", "currency": null}', "currency"),
    (b'{"id": "a", "currency": 826}', "currency"),
    (b'{"id": "a", "accountName": ["x"]}', "accountName"),
    (b'{"id": "a", "accountName": "nul\\u0000"}', "NUL"),
    (b'{"id": "a", "modifiedDate": "yesterday"}', "modifiedDate"),
    (b'{"id": "a", "status": "connected"}', "status"),
    (b'{"id": "a", "colour": "blue"}', "colour"),
    (b'{"id": "a", "accountName": "n", "accountType": "checking", "accountNumber": "1", "currency": "USD"}',
     "balance"),
    (b'{"id": "a", "accountType": "checking", "accountNumber": "1", "currency": "USD", "balance": 1}',
     "accountName"),
    (b'{"id": "a", "accountName": "n", "accountType": "checking", "accountNumber": "1", "currency": "USD",'
     b' "balance": null}', "balance"),
    (b'{"id": "a", "accountName": "n", "accountType": "checking", "accountNumber": "1", "currency": "USD",'
     b' "balance": 1, "routingInfo": {"type": "postcode"}}', "routingInfo"),
    (b'{"id": "a", "accountName": "n", "accountType": "checking", "accountNumber": "1", "currency": "USD",'
     b' "balance": 1, "routingInfo": null}', "routingInfo"),
    (b'{"id": "a", "accountName": "n", "accountType": "checking", "accountNumber": "1", "currency": "USD",'
     b' "balance": 1, "accountInfo": {"accountOpenDate": "May 2023"}}', "accountOpenDate"),
    (b'{"id": "a", "accountName": "n", "accountType": "checking", "accountNumber": "1", "currency": "USD",'
     b' "balance": 1, "accountInfo": {"extra": 1}}', "extra"),
    (b'{"id": "a", "accountName": "n", "accountType": "checking", "accountNumber": "1", "currency": "USD",'
     b' "balance": 1, "status": "linked"}', "status"),
]


def test_bad_bodies_are_400_and_create_nothing(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection)
    for raw, needle in BAD_BODIES:
        r = send(client, "POST", url, raw)
        assert_error(r, 400, needle)
    assert client.get(url).json() == []


def test_unknown_or_malformed_company_and_connection_are_404(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company, connection = feed(database, clock)
    other_company, other_connection = feed(database, clock)
    missing = str(uuid.uuid4())
    cases = [
        (missing, str(connection.id), f"No company was found with ID {missing}"),
        ("not-a-uuid", str(connection.id), "No company was found with ID not-a-uuid"),
        (str(company.id), missing, f"Data connection {missing} not found"),
        (str(company.id), "nope", "Data connection nope not found"),
        # A real connection of another company is not found under this one.
        (str(company.id), str(other_connection.id), f"Data connection {other_connection.id} not found"),
    ]
    for company_id, connection_id, message in cases:
        url = accounts_url(company_id, connection_id)
        assert_error(client.get(url), 404, message)
        assert_error(client.post(url, json=V1), 404, message)
        assert_error(client.post(url + "/batch", json=[V1]), 404, message)
        assert_error(client.patch(url + "/acc-v1", json={"id": "acc-v1"}), 404, message)
        assert_error(client.delete(url + "/acc-v1"), 404, message)
    assert client.get(accounts_url(other_company, other_connection)).json() == []


def test_requires_an_api_key(anon_client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    r = anon_client.post(accounts_url(company, connection), json=V1)
    assert r.status_code == 401
    assert stored(database, connection, "acc-v1") is None
