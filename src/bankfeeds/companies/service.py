"""Companies: the bank's business customers."""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy.orm import Session

from bankfeeds.companies.repository import FIELDS, CompanyRepository, tag_column
from bankfeeds.companies.schemas import CompanyOut, CompanyRequestBody, CompanyUpdateRequest
from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.connections.schemas import ConnectionCreate
from bankfeeds.errors import NotFound
from bankfeeds.kit import query
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.kit.pagination import PageParams
from bankfeeds.models import Company, EventType
from bankfeeds.webhooks import events
from bankfeeds.webhooks.schemas import CompanyPayload

PRODUCT = "bank-feeds"


def to_wire(settings: Settings, company: Company, otps: dict[uuid.UUID, str | None] | None = None) -> CompanyOut:
    otps = otps or {}
    return CompanyOut(
        id=str(company.id),
        name=company.name,
        description=company.description,
        redirect=f"{settings.public_url.rstrip('/')}/link/company/{company.id}",
        last_sync=company.last_sync,
        created=company.created_at,
        created_by_user_name=company.created_by,
        products=list(company.products or []),
        tags=dict(company.tags or {}),
        data_connections=[connections.to_wire(settings, c, otps.get(c.id)) for c in company.connections],
    )


def details(settings: Settings, company: Company) -> CompanyPayload:
    """The ``companyDetails`` payload of company.* webhooks: the company's wire shape without its
    connections (the model of that dict; tests/webhooks/test_payload_shapes.py holds the two together)."""
    from bankfeeds.kit.http import wire

    body = wire(to_wire(settings, company))
    body.pop("dataConnections", None)
    return cast(CompanyPayload, body)


def create(
    session: Session, clock: Clock, settings: Settings, body: CompanyRequestBody, *, created_by: str | None
) -> tuple[Company, dict[uuid.UUID, str | None]]:
    if body.platform_type is not None:
        # Validate before writing anything: the legacy body is all or nothing.
        connections.parse_platform_key(body.platform_type)
    company = CompanyRepository(session).add(
        Company(
            id=uuid.uuid4(),
            name=body.name,
            description=body.description,
            tags=dict(body.tags or {}),
            products=[PRODUCT],
            created_by=created_by,
            created_at=clock.now(),
        )
    )
    events.record(session, clock, EventType.COMPANY_CREATED, details(settings, company), company=company)
    otps: dict[uuid.UUID, str | None] = {}
    if body.platform_type is not None:
        connection, otp = connections.create(
            session, clock, settings, company, ConnectionCreate(platform_key=body.platform_type)
        )
        otps[connection.id] = otp
        session.refresh(company, ["connections"])
    return company, otps


def get(session: Session, company_id: uuid.UUID, *, for_update: bool = False) -> Company:
    company = CompanyRepository(session).get(company_id, for_update=for_update)
    if company is None:
        raise NotFound(f"No company was found with ID {company_id}")
    return company


def page(session: Session, params: PageParams, tags: str | None) -> tuple[list[Company], int]:
    where = query.and_(
        query.compile_filter(params.query, FIELDS),
        query.compile_tag_filter(tags, tag_column),
    )
    order = query.compile_order(params.order_by, FIELDS, [Company.created_at.asc(), Company.id.asc()])
    return CompanyRepository(session).page(where, order, params)


def delete(session: Session, clock: Clock, settings: Settings, company: Company) -> None:
    """Permanent: the company, its connection, accounts, transactions and push history."""
    for connection in list(company.connections):
        connections.delete(session, clock, settings, company, connection)
    events.record(session, clock, EventType.COMPANY_DELETED, details(settings, company), company=company)
    CompanyRepository(session).delete(company)


def delete_and_release(database: Database, clock: Clock, settings: Settings, company_id: uuid.UUID) -> None:
    """delete-company: each connection's platform is told first, best effort (Xero: feeds removed,
    grant revoked), outside any transaction; then everything goes in one transaction."""
    with database.unit_of_work() as session:
        held = [(connections.platform_of(c), c.id) for c in get(session, company_id).connections]
    for platform, connection_id in held:
        platform.release(database, clock, settings, connection_id)
    with database.unit_of_work() as session:
        delete(session, clock, settings, get(session, company_id, for_update=True))


def replace(company: Company, body: CompanyRequestBody) -> Company:
    """PUT: omitted fields are cleared."""
    company.name = body.name
    company.description = body.description
    company.tags = dict(body.tags or {})
    return company


def update(company: Company, body: CompanyUpdateRequest) -> Company:
    """PATCH: absent or null fields are left alone."""
    if body.name is not None:
        company.name = body.name
    if body.description is not None:
        company.description = body.description
    if body.tags is not None:
        company.tags = dict(body.tags)
    return company
