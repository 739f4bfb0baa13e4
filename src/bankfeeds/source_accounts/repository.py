from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from bankfeeds.kit.repository import Repository
from bankfeeds.models import Connection, SourceAccount, SourceAccountStatus


class SourceAccountRepository(Repository[SourceAccount]):
    model = SourceAccount

    @property
    def _postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def get(self, connection_id: uuid.UUID, account_id: str, *, for_update: bool = False) -> SourceAccount | None:
        stmt = select(SourceAccount).where(
            SourceAccount.connection_id == connection_id, SourceAccount.account_id == account_id
        )
        return self.one(stmt, for_update=for_update)

    def for_connection(self, connection_id: uuid.UUID) -> list[SourceAccount]:
        stmt = (
            select(SourceAccount)
            .where(SourceAccount.connection_id == connection_id)
            .order_by(SourceAccount.created_at, SourceAccount.account_id)
        )
        return list(self.session.scalars(stmt))

    def account_ids(self, connection_id: uuid.UUID) -> set[str]:
        stmt = select(SourceAccount.account_id).where(SourceAccount.connection_id == connection_id)
        return set(self.session.scalars(stmt))

    def count_not_disconnected(self, connection_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(
            SourceAccount.connection_id == connection_id, SourceAccount.status != SourceAccountStatus.DISCONNECTED
        )
        return int(self.session.scalar(stmt) or 0)

    def lock_connection_status(self, connection_id: uuid.UUID) -> str | None:
        """The connection's committed status, with its row locked for the rest of the transaction."""
        stmt = select(Connection.status).where(Connection.id == connection_id).with_for_update()
        return self.session.scalar(stmt)

    def delete(self, account: SourceAccount) -> None:
        self.session.delete(account)
        self.session.flush()

    def claim_stale(
        self, platform_keys: list[str], cutoff: datetime, limit: int
    ) -> list[tuple[SourceAccount, Connection]]:
        """Connected accounts of connections to ``platform_keys`` not pulled (or, if never pulled, not
        connected) since ``cutoff``, each with its connection and the connection's company (one
        query). On PostgreSQL the account and connection rows are claimed with ``FOR UPDATE SKIP
        LOCKED`` so workers share the work and never wait on a busy connection."""
        since = func.coalesce(SourceAccount.last_pulled_at, SourceAccount.connected_at, SourceAccount.created_at)
        stmt = (
            select(SourceAccount, Connection)
            .join(Connection, Connection.id == SourceAccount.connection_id)
            .options(joinedload(Connection.company, innerjoin=True))
            .where(
                Connection.platform_key.in_(platform_keys),
                SourceAccount.status == SourceAccountStatus.CONNECTED,
                since < cutoff,
            )
            # Connection order: concurrent workers take connection locks in the same order.
            .order_by(SourceAccount.connection_id, SourceAccount.id)
            .limit(limit)
        )
        if self._postgresql:
            stmt = stmt.with_for_update(skip_locked=True, of=[SourceAccount, Connection])
        return [(account, connection) for account, connection in self.session.execute(stmt).tuples()]
