"""Connections: one bank-feeds connection per company, its status machine and its linkUrl.

Every ``connection.*`` transition goes through here: ``create`` (``connection.created``),
``set_status`` (``connection.connected`` / ``reconnected`` / ``disconnected``), ``fail_link``
(``connection.failed``) and ``delete`` (``connection.deleted``). What differs per platform is
asked of the platform (``bankfeeds.platforms``), never tested here.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from bankfeeds.companies.repository import CompanyRepository
from bankfeeds.config import Settings
from bankfeeds.connections import otp as signed_otp
from bankfeeds.connections.repository import FIELDS, ConnectionRepository
from bankfeeds.connections.schemas import ConnectionCreate, ConnectionOut, ConnectionUnlink
from bankfeeds.errors import BadRequest, Conflict, NotFound
from bankfeeds.kit import query
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.kit.http import wire
from bankfeeds.kit.jsonutil import format_datetime
from bankfeeds.kit.pagination import PageParams
from bankfeeds.models import Company, Connection, ConnectionStatus, EventType
from bankfeeds.platforms import PLATFORMS, valid_keys
from bankfeeds.platforms.base import Platform
from bankfeeds.webhooks import events
from bankfeeds.webhooks.events import ConnectionEventType
from bankfeeds.webhooks.schemas import ConnectionPayload

_KEY = re.compile(r"^[a-z]{4}$")


def platform_of(connection: Connection) -> Platform:
    return PLATFORMS[connection.platform_key]


def link_url(settings: Settings, connection: Connection, otp: str | None) -> str:
    url = (
        f"{settings.public_url.rstrip('/')}/link/companies/{connection.company_id}"
        f"/connections/{connection.id}/start"
    )
    return f"{url}?otp={otp}" if otp else url


def mint_otp(clock: Clock, settings: Settings, connection: Connection) -> str:
    """A fresh one-time password for the connection's linkUrl (every platform links through it);
    signed, not stored (``connections/otp.py``)."""
    return signed_otp.mint(settings, connection.id, clock.now())


def to_wire(settings: Settings, connection: Connection, otp: str | None = None) -> ConnectionOut:
    platform = platform_of(connection)
    return ConnectionOut(
        id=str(connection.id),
        integration_id=str(platform.integration_id),
        integration_key=platform.key,
        source_id=str(platform.source_id),
        source_type=platform.source_type,
        platform_name=platform.name,
        link_url=link_url(settings, connection, otp),
        status=connection.status,
        last_sync=connection.last_sync,
        created=connection.created_at,
        data_connection_errors=[dict(connection.last_error)] if connection.last_error else [],
        connection_info=None,
    )


def event_payload(settings: Settings, company: Company, connection: Connection) -> ConnectionPayload:
    return {
        "referenceCompany": events.reference_company(company, settings.public_url),
        "connection": wire(to_wire(settings, connection)),
    }


def parse_platform_key(raw: str | None) -> str:
    keys = ", ".join(valid_keys())
    if raw is None or not isinstance(raw, str) or not _KEY.match(raw):
        raise BadRequest(f"platformKey must be a four-letter platform key; valid keys are: {keys}.")
    if raw not in PLATFORMS:
        raise BadRequest(f"Unknown platformKey '{raw}'; valid keys are: {keys}.")
    return raw


def create(
    session: Session, clock: Clock, settings: Settings, company: Company, body: ConnectionCreate
) -> tuple[Connection, str | None]:
    key = parse_platform_key(body.platform_key)
    repo = ConnectionRepository(session)
    existing = repo.for_company(company.id)
    if existing is not None:
        raise Conflict(
            f"Company {company.id} already has a bank feeds connection ({existing.id}, "
            f"{existing.platform_key}); a company can have one. Delete it to connect another platform."
        )
    connection = repo.add(
        Connection(
            id=uuid.uuid4(), company_id=company.id, platform_key=key, status=ConnectionStatus.PENDING_AUTH,
            created_at=clock.now(),
        )
    )
    events.record(session, clock, EventType.CONNECTION_CREATED, event_payload(settings, company, connection),
                  company=company)
    return connection, mint_otp(clock, settings, connection)


def get(session: Session, company: Company, connection_id: uuid.UUID, *, for_update: bool = False) -> Connection:
    connection = ConnectionRepository(session).get(company.id, connection_id, for_update=for_update)
    if connection is None:
        raise NotFound(f"Data connection {connection_id} not found")
    return connection


def page(session: Session, company: Company, params: PageParams) -> tuple[list[Connection], int]:
    where = query.compile_filter(params.query, FIELDS)
    order = query.compile_order(params.order_by, FIELDS, [Connection.created_at.asc(), Connection.id.asc()])
    return ConnectionRepository(session).page(company.id, where, order, params)


def delete(session: Session, clock: Clock, settings: Settings, company: Company, connection: Connection) -> None:
    """Deauthorize: the connection, its credentials, accounts and transactions go at once."""
    events.record(session, clock, EventType.CONNECTION_DELETED, event_payload(settings, company, connection),
                  company=company)
    ConnectionRepository(session).delete(connection)


def delete_and_release(
    database: Database, clock: Clock, settings: Settings, company_id: uuid.UUID, connection_id: uuid.UUID
) -> None:
    """delete-connection: the platform is told first, best effort (Xero: its feeds are removed and
    the grant revoked), outside any transaction; then the connection goes in one transaction.
    The delete itself never fails because the platform is down."""
    with database.unit_of_work() as session:
        connection = get(session, _company(session, company_id), connection_id)
        platform = platform_of(connection)
    platform.release(database, clock, settings, connection_id)
    with database.unit_of_work() as session:
        company = _company(session, company_id, for_update=True)
        delete(session, clock, settings, company, get(session, company, connection_id))


def _company(session: Session, company_id: uuid.UUID, *, for_update: bool = False) -> Company:
    company = CompanyRepository(session).get(company_id, for_update=for_update)
    if company is None:
        raise NotFound(f"No company was found with ID {company_id}")
    return company


def unlink(
    session: Session, clock: Clock, settings: Settings, company: Company, connection: Connection,
    body: ConnectionUnlink,
) -> Connection:
    if body.status != ConnectionStatus.UNLINKED:
        raise BadRequest("Only {\"status\": \"Unlinked\"} is supported when updating a connection.")
    if connection.status != ConnectionStatus.LINKED:
        raise BadRequest(f"Only a Linked connection can be unlinked; this one is {connection.status}.")
    set_status(session, clock, settings, company, connection, ConnectionStatus.UNLINKED)
    platform_of(connection).on_unlinked(session, clock, connection)
    return connection


def claim_platform_checks(session: Session, platform_key: str, checked_before: datetime, now: datetime,
                          limit: int) -> list[uuid.UUID]:
    """Linked connections due for the worker's check of the platform's side (Xero: daily)."""
    return ConnectionRepository(session).claim_platform_checks(
        platform_key, ConnectionStatus.LINKED, checked_before, now, limit)


def set_status(
    session: Session, clock: Clock, settings: Settings, company: Company, connection: Connection, status: str
) -> None:
    """Move the connection and record the matching webhook event."""
    old = connection.status
    if old == status:
        return
    connection.status = status
    event_type: ConnectionEventType | None = None
    if status == ConnectionStatus.LINKED:
        connection.linked_at = clock.now()
        if connection.last_error and connection.last_error.get("status") == "Active":
            # A failed link (say, the SMB cancelled) that was restarted and has now succeeded.
            connection.last_error = {**connection.last_error, "status": "Resolved",
                                     "resolvedOnUtc": format_datetime(connection.linked_at)}
        event_type = (EventType.CONNECTION_CONNECTED if old == ConnectionStatus.PENDING_AUTH
                      else EventType.CONNECTION_RECONNECTED)
    elif status in (ConnectionStatus.UNLINKED, ConnectionStatus.DEAUTHORIZED):
        event_type = EventType.CONNECTION_DISCONNECTED
    session.flush()
    if event_type:
        events.record(session, clock, event_type, event_payload(settings, company, connection), company=company)


def fail_link(
    session: Session, clock: Clock, settings: Settings, company: Company, connection: Connection, *,
    status_code: str = "403",
    status_text: str = "User cancelled linking",
    error_message: str = "User cancelled",
) -> bool:
    """Linking failed (the SMB cancelled or refused consent, or the platform refused):
    ``connection.failed``, as in Codat's example. Only a ``PendingAuth`` connection fails (False
    otherwise, nothing recorded); it stays ``PendingAuth`` and keeps the error
    (``dataConnectionErrors``) until it links."""
    if connection.status != ConnectionStatus.PENDING_AUTH:
        return False
    error = {
        "statusCode": status_code,
        "statusText": status_text,
        "errorMessage": error_message,
        "erroredOnUtc": format_datetime(clock.now()),
        "status": "Active",
    }
    connection.last_error = error
    session.flush()
    payload = event_payload(settings, company, connection)
    payload["connection"]["dataConnectionErrors"] = [dict(error)]
    events.record(session, clock, EventType.CONNECTION_FAILED, payload, company=company)
    return True
