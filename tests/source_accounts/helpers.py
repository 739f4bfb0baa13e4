"""Shared helpers for the source-account and account-mapping tests."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection, SourceAccount
from tests.fixtures.factories import make_company, make_connection

V1: dict[str, Any] = {
    "id": "acc-v1",
    "accountName": "Business Current",
    "accountType": "Debit",
    "accountNumber": "12345670",
    "sortCode": "123456",
    "currency": "GBP",
    "balance": 99.99,
}
V2: dict[str, Any] = {
    "id": "acc-v2",
    "accountName": "Checking",
    "accountType": "checking",
    "accountNumber": "98765432",
    "routingInfo": {"bankCode": "021001088", "type": "aba"},
    "currency": "USD",
    "balance": 10,
    "accountInfo": {"description": "Main account", "nickname": "Main", "accountOpenDate": "2023-05-06",
                    "availableBalance": 10.5},
}


def feed(database: Database, clock: Clock, platform: str = "hcws", status: str = "PendingAuth") -> tuple[Company, Connection]:
    company = make_company(database, clock)
    return company, make_connection(database, clock, company, platform, status=status)


def accounts_url(company: Company | str, connection: Connection | str) -> str:
    cid = company if isinstance(company, str) else company.id
    nid = connection if isinstance(connection, str) else connection.id
    return f"/companies/{cid}/connections/{nid}/connectionInfo/bankFeedAccounts"


def mapping_url(company: Company | str, connection: Connection | str) -> str:
    cid = company if isinstance(company, str) else company.id
    nid = connection if isinstance(connection, str) else connection.id
    return f"/companies/{cid}/connections/{nid}/bankFeedAccounts/mapping"


def exact(response: Response) -> Any:
    """The response body with every non-integer number as an exact Decimal."""
    return json.loads(response.text, parse_float=Decimal)


def send(client: TestClient, method: str, url: str, raw: bytes | str) -> Response:
    content = raw.encode() if isinstance(raw, str) else raw
    return client.request(method, url, content=content, headers={"Content-Type": "application/json"})


def create(client: TestClient, company: Company, connection: Connection, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(accounts_url(company, connection), json=body)
    assert r.status_code == 200, r.text
    return exact(r)  # type: ignore[no-any-return]


def assert_error(response: Response, status: int, *needles: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["statusCode"] == status and body["service"] == "PublicApi" and body["correlationId"]
    assert body["canBeRetried"] == "Unknown" and body["detailedErrorCode"] == 0
    for needle in needles:
        assert needle in body["error"], (needle, body["error"])
    return body  # type: ignore[no-any-return]


def stored(database: Database, connection: Connection, account_id: str) -> SourceAccount | None:
    with database.unit_of_work() as session:
        return session.scalars(
            select(SourceAccount).where(SourceAccount.connection_id == connection.id,
                                        SourceAccount.account_id == account_id)
        ).one_or_none()


def connection_status(database: Database, connection: Connection) -> str:
    with database.unit_of_work() as session:
        row = session.get(Connection, connection.id)
        assert row is not None
        return row.status
