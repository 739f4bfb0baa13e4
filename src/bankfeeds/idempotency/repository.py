"""All SQL of idempotency keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from bankfeeds.models import IdempotencyKey

IN_FLIGHT = "in_flight"
COMMITTED = "committed"
COMPLETED = "completed"


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


class IdempotencyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def insert_if_absent(self, row: IdempotencyKey) -> bool:
        """Insert unless the (api key, key) pair exists; the unique constraint decides a race
        (PostgreSQL waits for a concurrent inserter to commit or roll back). No exception, no
        savepoint: one statement."""
        values = {
            "id": row.id, "api_key_id": row.api_key_id, "key_hash": row.key_hash,
            "request_hash": row.request_hash, "state": row.state, "created_at": row.created_at,
            "expires_at": row.expires_at,
        }
        keys = ["api_key_id", "key_hash"]
        stmt: ReturningInsert[uuid.UUID]
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = pg_insert(IdempotencyKey).values(**values).on_conflict_do_nothing(
                index_elements=keys).returning(IdempotencyKey.id)
        else:
            stmt = sqlite_insert(IdempotencyKey).values(**values).on_conflict_do_nothing(
                index_elements=keys).returning(IdempotencyKey.id)
        return self.session.execute(stmt).first() is not None

    def get(self, api_key_id: uuid.UUID, key_hash: str) -> IdempotencyKey | None:
        stmt = select(IdempotencyKey).where(
            IdempotencyKey.api_key_id == api_key_id, IdempotencyKey.key_hash == key_hash
        ).execution_options(populate_existing=True)
        return self.session.scalars(stmt).one_or_none()

    def delete_expired(self, row_id: uuid.UUID, now: datetime) -> None:
        self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.id == row_id, IdempotencyKey.expires_at <= now)
        )

    def delete_in_flight(self, row_id: uuid.UUID) -> bool:
        """Drop an abandoned reservation, unless it moved on meanwhile."""
        result = self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.id == row_id, IdempotencyKey.state == IN_FLIGHT)
        )
        return _rowcount(result) == 1

    def mark_committed(self, row_id: uuid.UUID) -> bool:
        result = self.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == row_id, IdempotencyKey.state.in_((IN_FLIGHT, COMMITTED)))
            .values(state=COMMITTED)
        )
        return _rowcount(result) == 1

    def complete(
        self, row_id: uuid.UUID, status_code: int, headers: list[list[str]], body: bytes, expires_at: datetime
    ) -> bool:
        result = self.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == row_id, IdempotencyKey.state.in_((IN_FLIGHT, COMMITTED)))
            .values(state=COMPLETED, status_code=status_code, headers=headers, body=body,
                    expires_at=expires_at)
        )
        return _rowcount(result) == 1

    def release(self, row_id: uuid.UUID) -> bool:
        result = self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.id == row_id, IdempotencyKey.state != COMPLETED)
        )
        return _rowcount(result) == 1

    def purge_expired(self, now: datetime, limit: int) -> int:
        ids = select(IdempotencyKey.id).where(IdempotencyKey.expires_at <= now).limit(limit)
        result = self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.id.in_(ids.scalar_subquery()))
        )
        return _rowcount(result)
