"""Helpers for the IDX, credentials and link tests: credentials through the real API, history rows direct."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction, Connection, PushOperation, SourceAccount

IDX = "/partners/intuit/idx"
PARTNER_KEY = "test-partner-key"  # tests.fixtures.app.make_settings


def credentials_path(connection: Connection) -> str:
    return (f"/companies/{connection.company_id}/connections/{connection.id}"
            "/connectionInfo/bankFeedAccounts/credentials")


def new_credentials(client: TestClient, connection: Connection) -> tuple[str, str]:
    r = client.post(credentials_path(connection), content=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()
    return body["username"], body["password"]


def idx_headers(username: str, password: str, partner_key: str = PARTNER_KEY) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}", "X-Partner-Key": base64.b64encode(partner_key.encode()).decode()}


def add_transactions(
    database: Database,
    clock: Clock,
    account: SourceAccount,
    modified: list[datetime],
    *,
    amounts: list[Decimal] | None = None,
    prefix: str = "t",
    **fields: Any,
) -> list[str]:
    """Rows as a push would leave them, one per ``modified`` instant; returns their ids."""
    ids = []
    with database.unit_of_work() as session:
        op = PushOperation(key=uuid.uuid4(), company_id=_company_id(database, account), connection_id=account.connection_id,
                           source_account_id=account.account_id, status="Success", status_code=200,
                           requested_at=clock.now(), completed_at=clock.now(), validation={}, transaction_count=len(modified))
        session.add(op)
        session.flush()
        for i, at in enumerate(modified):
            tid = f"{prefix}-{i}"
            ids.append(tid)
            amount = amounts[i] if amounts else Decimal("-12.50") if i % 2 else Decimal("100.00")
            session.add(BankTransaction(
                source_account_id=account.id, push_operation_key=op.key, transaction_id=tid,
                date=fields.get("date", datetime(2026, 11, 20, 9, 30)), description=f"Txn {i}",
                amount=amount, balance=Decimal("1000.00"),
                transaction_type=fields.get("transaction_type"), counterparty=fields.get("counterparty"),
                reference=fields.get("reference"), modified_at=at,
            ))
    return ids


def _company_id(database: Database, account: SourceAccount) -> uuid.UUID:
    with database.unit_of_work() as session:
        return session.scalars(select(Connection.company_id).where(Connection.id == account.connection_id)).one()


def reload(database: Database, model: type[Any], key: Any) -> Any:
    with database.unit_of_work() as session:
        row = session.get(model, key)
        assert row is not None
        session.expunge(row)
        return row


def days(n: float) -> timedelta:
    return timedelta(days=n)
