from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from bankfeeds.models import SourceAccount

# Statuses in which a source account holds its target account.
HOLDING = ("connecting", "connected")


class MappingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def held_targets(self, connection_id: uuid.UUID, *, excluding: uuid.UUID | None = None) -> set[str]:
        """Target account ids already fed by a (connecting or connected) source account."""
        stmt = select(SourceAccount.target_account_id).where(
            SourceAccount.connection_id == connection_id,
            SourceAccount.status.in_(HOLDING),
            SourceAccount.target_account_id.is_not(None),
        )
        if excluding is not None:
            stmt = stmt.where(SourceAccount.id != excluding)
        return {t for t in self.session.scalars(stmt) if t is not None}

    def currencies(self, connection_id: uuid.UUID) -> list[str]:
        """Currencies of the connection's source accounts, first-created first, without repeats."""
        stmt = (
            select(SourceAccount.currency)
            .where(SourceAccount.connection_id == connection_id, SourceAccount.currency.is_not(None))
            .order_by(SourceAccount.created_at, SourceAccount.account_id)
        )
        return list(dict.fromkeys(c for c in self.session.scalars(stmt) if c is not None))
