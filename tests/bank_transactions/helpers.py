"""Helpers for writing bank transactions through the real app and reading what was stored."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import simplejson
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction, Company, Connection, PushOperation, SourceAccount


def write_url(company: Company | str, connection: Connection | str, account_id: str = "acc-1") -> str:
    cid = company if isinstance(company, str) else company.id
    nid = connection if isinstance(connection, str) else connection.id
    return f"/companies/{cid}/connections/{nid}/push/bankAccounts/{account_id}/bankTransactions"


def options_url(company: Company | str, connection: Connection | str, account_id: str = "acc-1") -> str:
    cid = company if isinstance(company, str) else company.id
    nid = connection if isinstance(connection, str) else connection.id
    return f"/companies/{cid}/connections/{nid}/options/bankAccounts/{account_id}/bankTransactions"


def txn(n: int, date: str | None = None, **fields: Any) -> dict[str, Any]:
    """A QuickBooks-valid transaction: id ``t<n>``, 23 Nov 2026 at 10:<n> unless told."""
    body: dict[str, Any] = {
        "id": f"t{n}",
        "date": date or f"2026-11-23T10:{n:02d}:00",
        "description": f"Payment {n}",
        "amount": Decimal("10.00"),
        "balance": Decimal(n * 10),
        "transactionType": "Credit",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not _DROP}


class _Drop:
    pass


_DROP: Any = _Drop()


def drop() -> Any:
    """A field value meaning "leave the field out"."""
    return _DROP


def post(
    client: TestClient, url: str, body: dict[str, Any] | str | bytes, **params: Any
) -> Response:
    """POST an exact JSON body: Decimals are written as JSON numbers, digit for digit."""
    content = body if isinstance(body, str | bytes) else simplejson.dumps(body, use_decimal=True)
    response: Response = client.post(url, content=content, params=params,
                                     headers={"Content-Type": "application/json"})
    return response


def write(
    client: TestClient, company: Company, connection: Connection, txns: list[dict[str, Any]],
    account_id: str = "acc-1", **params: Any,
) -> dict[str, Any]:
    r = post(client, write_url(company, connection, account_id), {"accountId": account_id, "transactions": txns},
             **params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def stored(database: Database, account: SourceAccount | None = None) -> list[BankTransaction]:
    with database.unit_of_work() as s:
        stmt = select(BankTransaction).order_by(BankTransaction.seq)
        if account is not None:
            stmt = stmt.where(BankTransaction.source_account_id == account.id)
        return list(s.scalars(stmt))


def stored_ids(database: Database, account: SourceAccount | None = None) -> list[str]:
    return [t.transaction_id for t in stored(database, account)]


def account_row(database: Database, account: SourceAccount) -> SourceAccount:
    with database.unit_of_work() as s:
        row = s.get(SourceAccount, account.id)
        assert row is not None
        return row


def push_count(database: Database) -> int:
    with database.unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(PushOperation)) or 0)


def error_ids(op: dict[str, Any], validator: str | None = None) -> list[str | None]:
    return [e["itemId"] for e in op["validation"]["errors"] if validator is None or e["validatorName"] == validator]


def warning_ids(op: dict[str, Any], validator: str | None = None) -> list[str | None]:
    return [w["itemId"] for w in op["validation"]["warnings"] if validator is None or w["validatorName"] == validator]


def assert_plain_400(r: Response) -> dict[str, Any]:
    assert r.status_code == 400, r.text
    err: dict[str, Any] = r.json()
    assert err["statusCode"] == 400 and err["service"] == "PublicApi" and err["error"]
    assert err["canBeRetried"] == "Unknown" and err["detailedErrorCode"] == 0 and err["correlationId"]
    assert "pushOperationKey" not in err
    return err


def new_id() -> str:
    return str(uuid.uuid4())
