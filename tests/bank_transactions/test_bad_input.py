"""Malformed requests are a plain 400 (or 404 for unknown ids) and change nothing."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.bank_transactions.helpers import assert_plain_400, post, push_count, stored_ids, txn, write_url
from tests.fixtures.factories import make_linked_feed
from tests.fixtures.reads import events

T = '{"id":"t1","date":"2026-11-23T10:00:00","description":"d","amount":1,"balance":1}'

BAD_BODIES = [
    b"",
    b"{",
    b"not json",
    b"[]",
    b"null",
    b'"text"',
    b'{"accountId":"acc-1"}',
    b'{"transactions":[]}',
    b'{"accountId":"acc-1","transactions":{}}',
    b'{"accountId":5,"transactions":[]}',
    b'{"accountId":"acc-1","transactions":[5]}',
    b'{"accountId":"acc-1","transactions":[' + T.replace('"amount":1', '"amount":"10.50"').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"balance":1', '"balance":"1"').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"amount":1', '"amount":true').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"amount":1', '"amount":NaN').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"amount":1', '"amount":Infinity').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"amount":1', '"amount":1e999999').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"amount":1', '"amount":0.' + "1" * 40).encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"amount":1', '"amount":1' + "0" * 30).encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"amount":1', '"amount":[1]').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T[:-1].encode() + b',"transactionType":"Refund"}]}',
    b'{"accountId":"acc-1","transactions":[' + T[:-1].encode() + b',"transactionType":"credit"}]}',
    b'{"accountId":"acc-1","transactions":[' + T[:-1].encode() + b',"transactionType":3}]}',
    b'{"accountId":"acc-1","transactions":[' + T[:-1].encode() + b',"reconciled":"true"}]}',
    b'{"accountId":"acc-1","transactions":[' + T[:-1].encode() + b',"reconciled":1}]}',
    b'{"accountId":"acc-1","transactions":[' + T.replace('"2026-11-23T10:00:00"', '"23/11/2026"').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"2026-11-23T10:00:00"', '"2026-13-01"').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"2026-11-23T10:00:00"', "20261123").encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"id":"t1"', '"id":1').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"id":"t1"', '"id":""').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"id":"t1"', '"id":"' + "x" * 201 + '"').encode() + b"]}",
    b'{"accountId":"acc-1","transactions":[' + T.replace('"description":"d"', '"description":5').encode() + b"]}",
]


def test_malformed_bodies_are_400_and_write_nothing(client: TestClient, database: Database,
                                                    clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    for raw in BAD_BODIES:
        try:
            assert_plain_400(post(client, write_url(company, connection), raw))
        except AssertionError as exc:
            raise AssertionError(f"body {raw[:300]!r}") from exc
    assert stored_ids(database) == [] and push_count(database) == 0 and events(database) == []


def test_more_than_1000_transactions_is_400(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    txns = [txn(i, date="2026-11-23T10:00:00") for i in range(1001)]
    err = assert_plain_400(post(client, write_url(company, connection), {"accountId": "acc-1", "transactions": txns}))
    assert "1000" in err["error"]
    assert stored_ids(database) == [] and push_count(database) == 0


def test_body_account_must_match_the_path(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock, accounts=("acc-1", "acc-2"))
    err = assert_plain_400(post(client, write_url(company, connection, "acc-1"),
                                {"accountId": "acc-2", "transactions": [txn(1)]}))
    assert "accountId" in err["error"]
    assert err["validation"]["errors"][0]["itemId"] == "accountId"
    assert stored_ids(database) == [] and push_count(database) == 0


def test_bad_query_parameters_are_400(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    for params in [
        {"timeoutInMinutes": "abc"}, {"timeoutInMinutes": "0"}, {"timeoutInMinutes": "-5"},
        {"timeoutInMinutes": "1.5"}, {"timeoutInMinutes": str(2**31)}, {"allowSyncOnPushComplete": "maybe"},
    ]:
        body = {"accountId": "acc-1", "transactions": [txn(1)]}
        assert "timeoutInMinutes" in assert_plain_400(post(client, write_url(company, connection), body, **params))[
            "error"] or "allowSyncOnPushComplete" in str(params)
    assert stored_ids(database) == [] and push_count(database) == 0


def test_unknown_or_malformed_ids_are_404(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    other_company, other_connection, _ = make_linked_feed(database, clock)
    body = {"accountId": "acc-1", "transactions": [txn(1)]}
    cases = [
        (write_url(str(uuid.uuid4()), connection), "No company was found"),
        (write_url("not-a-uuid", connection), "No company was found"),
        (write_url(company, str(uuid.uuid4())), "Data connection"),
        (write_url(company, "nope"), "Data connection"),
        (write_url(company, other_connection), "Data connection"),
        (write_url(other_company, connection), "Data connection"),
    ]
    for url, message in cases:
        r = post(client, url, body)
        assert r.status_code == 404, (url, r.text)
        assert r.json()["statusCode"] == 404 and message in r.json()["error"]
    r = post(client, write_url(company, connection, "acc-9"), {"accountId": "acc-9", "transactions": [txn(1)]})
    assert r.status_code == 404 and "Source account acc-9" in r.json()["error"]
    assert stored_ids(database) == [] and push_count(database) == 0 and events(database) == []


def test_an_api_key_is_required(anon_client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    r = post(anon_client, write_url(company, connection), {"accountId": "acc-1", "transactions": [txn(1)]})
    assert r.status_code == 401
    assert stored_ids(database) == [] and push_count(database) == 0
