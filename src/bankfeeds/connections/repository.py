from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from bankfeeds.kit.pagination import PageParams
from bankfeeds.kit.query import QueryField
from bankfeeds.kit.repository import Repository
from bankfeeds.models import Connection

FIELDS: dict[str, QueryField] = {
    "id": QueryField("uuid", Connection.id),
    "status": QueryField("string", Connection.status),
    "integrationKey": QueryField("string", Connection.platform_key),
    "created": QueryField("datetime", Connection.created_at),
    "lastSync": QueryField("datetime", Connection.last_sync),
}


class ConnectionRepository(Repository[Connection]):
    model = Connection

    def get(self, company_id: uuid.UUID, connection_id: uuid.UUID, *, for_update: bool = False) -> Connection | None:
        stmt = select(Connection).where(Connection.id == connection_id, Connection.company_id == company_id)
        return self.one(stmt, for_update=for_update)

    def by_id(self, connection_id: uuid.UUID) -> Connection | None:
        return self.session.get(Connection, connection_id)

    def for_company(self, company_id: uuid.UUID) -> Connection | None:
        return self.session.scalars(select(Connection).where(Connection.company_id == company_id)).first()

    def page(
        self, company_id: uuid.UUID, where: ColumnElement[bool], order: list[Any], params: PageParams
    ) -> tuple[list[Connection], int]:
        return self.paginate([Connection.company_id == company_id, where], order, params)

    def claim_platform_checks(self, platform_key: str, linked: str, checked_before: datetime, now: datetime,
                              limit: int) -> list[uuid.UUID]:
        """Linked connections of a platform not checked since ``checked_before``, marked checked now (SKIP LOCKED)."""
        stmt = (
            select(Connection)
            .where(Connection.platform_key == platform_key, Connection.status == linked,
                   or_(Connection.platform_checked_at.is_(None), Connection.platform_checked_at < checked_before))
            .order_by(Connection.platform_checked_at.asc().nulls_first(), Connection.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = list(self.session.scalars(stmt))
        for connection in claimed:
            connection.platform_checked_at = now
        self.session.flush()
        return [c.id for c in claimed]

    def delete(self, connection: Connection) -> None:
        self.session.delete(connection)
        self.session.flush()

