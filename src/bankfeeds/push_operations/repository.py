from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, text

from bankfeeds.kit.driver_sql import DriverStatement
from bankfeeds.kit.pagination import PageParams
from bankfeeds.kit.query import QueryField
from bankfeeds.kit.repository import Repository
from bankfeeds.models import Company, PushOperation
from bankfeeds.models.push_operation import TIMING_OUT

FIELDS: dict[str, QueryField] = {
    "pushOperationKey": QueryField("uuid", PushOperation.key),
    "dataConnectionKey": QueryField("uuid", PushOperation.connection_id),
    "dataType": QueryField("string", PushOperation.data_type),
    "status": QueryField("string", PushOperation.status),
    "statusCode": QueryField("number", PushOperation.status_code),
    "requestedOnUtc": QueryField("datetime", PushOperation.requested_at),
    "completedOnUtc": QueryField("datetime", PushOperation.completed_at),
    "timeoutInMinutes": QueryField("number", PushOperation.timeout_in_minutes),
    "errorMessage": QueryField("string", PushOperation.error_message),
}

_INSERT_OPERATION = DriverStatement.insert_of(PushOperation)

class PushOperationRepository(Repository[PushOperation]):
    model = PushOperation

    def insert(self, operation: PushOperation) -> None:
        """Write a new operation, as it stands, now (one compiled INSERT, no unit of work)."""
        _INSERT_OPERATION.add(self.session, operation)

    def get(self, company_id: uuid.UUID, key: uuid.UUID) -> PushOperation | None:
        return self.one(select(PushOperation).where(PushOperation.key == key, PushOperation.company_id == company_id))

    def page(
        self, company_id: uuid.UUID, where: ColumnElement[bool], order: list[Any], params: PageParams
    ) -> tuple[list[PushOperation], int]:
        return self.paginate([PushOperation.company_id == company_id, where], order, params)

    def claim_timed_out(self, now: datetime, limit: int) -> list[PushOperation]:
        """Pending operations past their timeout, locked for this transaction.

        On PostgreSQL other workers skip the rows we hold (FOR UPDATE SKIP LOCKED); SQLite
        serialises writers with BEGIN IMMEDIATE, so there is nothing to skip.
        """
        stmt = (
            select(PushOperation)
            .where(text(TIMING_OUT), PushOperation.timeout_at <= now)
            .order_by(PushOperation.timeout_at, PushOperation.key)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.scalars(stmt))

    def companies(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, Company]:
        if not ids:
            return {}
        return {c.id: c for c in self.session.scalars(select(Company).where(Company.id.in_(ids)))}
