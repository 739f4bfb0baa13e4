"""get-create-operation and list-create-operations."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection
from tests.bank_transactions.helpers import drop, txn, write
from tests.fixtures.factories import make_linked_feed


def test_get_returns_what_create_returned(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    created = write(client, company, connection, [txn(1, amount=Decimal("-1"))], timeoutInMinutes=10)
    r = client.get(f"/companies/{company.id}/push/{created['pushOperationKey']}")
    assert r.status_code == 200
    assert r.json() == created
    assert r.json()["validation"]["warnings"][0]["itemId"] == "t1"


def test_get_unknown_malformed_or_foreign_keys_are_404(client: TestClient, database: Database,
                                                       clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    other, _, _ = make_linked_feed(database, clock)
    key = write(client, company, connection, [txn(1)])["pushOperationKey"]
    for path, message in [
        (f"/companies/{company.id}/push/{uuid.uuid4()}", "Push operation"),
        (f"/companies/{company.id}/push/not-a-key", "Push operation"),
        (f"/companies/{other.id}/push/{key}", "Push operation"),
        (f"/companies/{uuid.uuid4()}/push/{key}", "No company was found"),
        (f"/companies/nope/push/{key}", "No company was found"),
    ]:
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["statusCode"] == 404 and message in r.json()["error"]
    assert client.get(f"/companies/{uuid.uuid4()}/push").status_code == 404
    assert client.get("/companies/nope/push").status_code == 404


def make_history(
    client: TestClient, database: Database, clock: FrozenClock
) -> tuple[Company, Connection, list[dict[str, Any]]]:
    company, connection, _ = make_linked_feed(database, clock)
    ok1 = write(client, company, connection, [txn(1)])
    clock.advance(timedelta(minutes=1))
    failed = write(client, company, connection, [txn(2, description=drop())])
    clock.advance(timedelta(minutes=1))
    ok2 = write(client, company, connection, [txn(3)], timeoutInMinutes=5)
    return company, connection, [ok1, failed, ok2]


def keys(r: object) -> list[str]:
    body = r.json()  # type: ignore[attr-defined]
    return [op["pushOperationKey"] for op in body["results"]]


def test_list_pages_in_request_order(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, _, ops = make_history(client, database, clock)
    base = f"/companies/{company.id}/push"
    page = client.get(base).json()
    assert page["totalResults"] == 3 and page["pageNumber"] == 1 and page["pageSize"] == 100
    assert [op["pushOperationKey"] for op in page["results"]] == [op["pushOperationKey"] for op in ops]
    assert page["results"][1] == ops[1]
    assert page["_links"]["self"]["href"] == base and "next" not in page["_links"]

    page2 = client.get(base, params={"page": 2, "pageSize": 2}).json()
    assert [op["pushOperationKey"] for op in page2["results"]] == [ops[2]["pushOperationKey"]]
    assert "page=1" in page2["_links"]["previous"]["href"]
    assert keys(client.get(base, params={"orderBy": "-requestedOnUtc"})) == [op["pushOperationKey"] for op in
                                                                              reversed(ops)]


def test_list_query(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, [ok1, failed, ok2] = make_history(client, database, clock)
    base = f"/companies/{company.id}/push"

    def q(query: str) -> list[str]:
        r = client.get(base, params={"query": query})
        assert r.status_code == 200, (query, r.text)
        return keys(r)

    assert q("status=Failed") == [failed["pushOperationKey"]]
    assert q("statusCode=400") == [failed["pushOperationKey"]]
    assert q("status=Success && statusCode=200") == [ok1["pushOperationKey"], ok2["pushOperationKey"]]
    assert q("requestedOnUtc>2026-11-24T15:00:30Z") == [failed["pushOperationKey"], ok2["pushOperationKey"]]
    assert q("completedOnUtc<2026-11-24T15:01:00Z") == [ok1["pushOperationKey"]]
    assert q(f"dataConnectionKey={connection.id}") == [o["pushOperationKey"] for o in (ok1, failed, ok2)]
    assert q(f"dataConnectionKey={uuid.uuid4()}") == []
    assert q("dataType=bankTransactions && timeoutInMinutes=5") == [ok2["pushOperationKey"]]
    assert q(f"pushOperationKey={ok1['pushOperationKey']} || status=Failed") == [ok1["pushOperationKey"],
                                                                                 failed["pushOperationKey"]]
    assert q("errorMessage~Push failed") == [failed["pushOperationKey"]]
    assert client.get(base, params={"query": "status=Failed", "pageSize": 1}).json()["totalResults"] == 1


def test_list_malformed_query_is_400(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, _, _ = make_history(client, database, clock)
    base = f"/companies/{company.id}/push"
    for params in [{"query": "status"}, {"query": "nope=1"}, {"query": "statusCode=abc"},
                   {"query": "requestedOnUtc>yesterday"}, {"orderBy": "nope"}, {"page": "0"}, {"pageSize": "x"}]:
        r = client.get(base, params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["statusCode"] == 400


def test_list_shows_only_the_company_s_operations(client: TestClient, database: Database,
                                                  clock: FrozenClock) -> None:
    company, _, _ = make_history(client, database, clock)
    other, other_connection, _ = make_linked_feed(database, clock)
    write(client, other, other_connection, [txn(1)])
    assert client.get(f"/companies/{company.id}/push").json()["totalResults"] == 3
    assert client.get(f"/companies/{other.id}/push").json()["totalResults"] == 1
