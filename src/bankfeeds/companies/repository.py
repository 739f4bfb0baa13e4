from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session, selectinload

from bankfeeds.kit.query import Op, QueryField, compare
from bankfeeds.models import Company, Connection


def tag_column(key: str) -> Any:
    return Company.tags[key].as_string()


def _connection_field(column: Any, kind: str = "string") -> QueryField:
    def build(op: Op, value: Any) -> ColumnElement[bool]:
        return exists().where(Connection.company_id == Company.id, compare(column, op, value))

    return QueryField(kind=kind, build=build, sortable=False)  # type: ignore[arg-type]


FIELDS: dict[str, QueryField] = {
    "id": QueryField("uuid", Company.id),
    "name": QueryField("string", Company.name),
    "description": QueryField("string", Company.description),
    "created": QueryField("datetime", Company.created_at),
    "lastSync": QueryField("datetime", Company.last_sync),
    "createdByUserName": QueryField("string", Company.created_by),
    "dataConnections.id": _connection_field(Connection.id, "uuid"),
    "dataConnections.status": _connection_field(Connection.status),
    "dataConnections.integrationKey": _connection_field(Connection.platform_key),
    "dataConnections.created": _connection_field(Connection.created_at, "datetime"),
}


class CompanyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, company: Company) -> Company:
        self.session.add(company)
        self.session.flush()
        return company

    def get(self, company_id: uuid.UUID, *, for_update: bool = False) -> Company | None:
        stmt = select(Company).where(Company.id == company_id).options(selectinload(Company.connections))
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def delete(self, company: Company) -> None:
        # Its connections were deleted one by one (events) or go by ON DELETE CASCADE: forget the
        # loaded collection so the ORM does not delete them a second time.
        self.session.expire(company, ["connections"])
        self.session.delete(company)
        self.session.flush()

    def page(
        self, where: ColumnElement[bool], order: list[Any], offset: int, limit: int
    ) -> tuple[list[Company], int]:
        total = self.session.scalar(select(func.count()).select_from(Company).where(where)) or 0
        rows = self.session.scalars(
            select(Company)
            .where(where)
            .order_by(*order)
            .offset(offset)
            .limit(limit)
            .options(selectinload(Company.connections))
        )
        return list(rows), total
