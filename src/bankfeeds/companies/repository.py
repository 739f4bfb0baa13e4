from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.orm import selectinload

from bankfeeds.kit.pagination import PageParams
from bankfeeds.kit.query import Op, QueryField, compare
from bankfeeds.kit.repository import Repository
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


class CompanyRepository(Repository[Company]):
    model = Company

    def statement(self) -> Select[Company]:
        return select(Company).options(selectinload(Company.connections))

    def get(self, company_id: uuid.UUID, *, for_update: bool = False) -> Company | None:
        return self.one(self.statement().where(Company.id == company_id), for_update=for_update)

    def delete(self, company: Company) -> None:
        # Its connections were deleted one by one (events) or go by ON DELETE CASCADE: forget the
        # loaded collection so the ORM does not delete them a second time.
        self.session.expire(company, ["connections"])
        self.session.delete(company)
        self.session.flush()

    def page(self, where: ColumnElement[bool], order: list[Any], params: PageParams) -> tuple[list[Company], int]:
        return self.paginate([where], order, params)
