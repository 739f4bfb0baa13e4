"""All SQL of idempotency keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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

    def try_insert(self, row: IdempotencyKey) -> bool:
        """Insert under a savepoint; False when the unique (api key, key) constraint refuses it."""
        try:
            with self.session.begin_nested():
                self.session.add(row)
                self.session.flush()
        except IntegrityError:
            return False
        return True

    def get(self, api_key_id: uuid.UUID, key_hash: str) -> IdempotencyKey | None:
        stmt = select(IdempotencyKey).where(
            IdempotencyKey.api_key_id == api_key_id, IdempotencyKey.key_hash == key_hash
        ).execution_options(populate_existing=True)
        return self.session.scalars(stmt).one_or_none()

    def delete_expired_key(self, api_key_id: uuid.UUID, key_hash: str, now: datetime) -> None:
        self.session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.api_key_id == api_key_id,
                IdempotencyKey.key_hash == key_hash,
                IdempotencyKey.expires_at <= now,
            )
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
