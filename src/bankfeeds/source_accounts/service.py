"""Source accounts: the bank's accounts as Codat sees them, and their status machine.

Status values: ``pending`` (created, unmapped) → ``connecting`` (mapping submitted) →
``connected`` → ``disconnected``; ``unknown`` exists in the enum but nothing here sets it.
Every move to ``connected`` or ``disconnected`` goes through :func:`mark_connected` /
:func:`mark_disconnected`, which record the ``bankFeeds.sourceAccount.*`` webhook events in the
caller's transaction. Other parts (the IDX API, account mapping, the disconnection task) call
these two functions; they never set ``status`` themselves.

Each account keeps the shape it was created in (``shape_version`` 1 = Codat's v1
``SourceAccount``, 2 = ``SourceAccountV2``) and is answered in that shape everywhere.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn

from sqlalchemy.orm import Session

from bankfeeds.companies import service as companies
from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.errors import BadRequest, NotFound
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.kit.http import wire
from bankfeeds.kit.jsonutil import format_datetime
from bankfeeds.models import Company, Connection, ConnectionStatus, EventType, SourceAccount, SourceAccountStatus
from bankfeeds.source_accounts.repository import SourceAccountRepository
from bankfeeds.source_accounts.schemas import (
    SourceAccountIn,
    SourceAccountOut,
    SourceAccountV1Update,
    SourceAccountV2In,
    SourceAccountV2Out,
    SourceAccountV2Update,
    parse_prototype,
    parse_update,
    reject_nul,
)
from bankfeeds.webhooks import events
from bankfeeds.webhooks.schemas import SourceAccountPayload

DUPLICATE_ID = "A bank account already exists with the same Id"


# ---------------------------------------------------------------------------------------------
# Lookups


def resolve(
    session: Session, company_id: uuid.UUID, connection_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Company, Connection]:
    """The company and its connection from path ids; unknown ids are a 404."""
    company = companies.get(session, company_id)
    return company, connections.get(session, company, connection_id, for_update=for_update)


def get_account(
    session: Session, connection: Connection, account_id: str, *, for_update: bool = False
) -> SourceAccount:
    # No stored id holds a NUL (create refuses it), and PostgreSQL refuses one in a query.
    account = None if "\x00" in account_id else SourceAccountRepository(session).get(
        connection.id, account_id, for_update=for_update
    )
    if account is None:
        raise NotFound(
            f"No source account with ID '{account_id!s}' was found on data connection {connection.id}"
        )
    return account


def list_accounts(session: Session, connection: Connection) -> list[SourceAccount]:
    return SourceAccountRepository(session).for_connection(connection.id)


# ---------------------------------------------------------------------------------------------
# Wire shapes


def _date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _datetime(value: datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


def to_wire(account: SourceAccount) -> dict[str, Any]:
    """The account in the shape it was created in (``schemas.SourceAccountOut`` or
    ``SourceAccountV2Out``), JSON-ready (dates as text, money as Decimal).

    Keys the wire carries only when known are left unset: a v1 account's ``currency`` (ISO4217 is
    not nullable in the spec), a v2 account's ``routingInfo``, and the fields of the stored
    ``routingInfo``/``accountInfo`` objects that were never given. ``feedStartDate`` is only given
    while the account is connected, as Codat documents.
    """
    feed_start = _date(account.feed_start_date) if account.status == SourceAccountStatus.CONNECTED else None
    fields: dict[str, Any] = {
        "id": account.account_id, "account_name": account.account_name, "account_type": account.account_type,
        "account_number": account.account_number, "sort_code": account.sort_code, "balance": account.balance,
        "modified_date": _datetime(account.modified_at), "status": account.status, "feed_start_date": feed_start,
    }
    if account.shape_version == 2:
        fields.update(currency=account.currency, account_info=account.account_info)
        if account.routing_info is not None:
            fields["routing_info"] = account.routing_info
        return wire(SourceAccountV2Out.model_validate(fields), exclude_unset=True)
    if account.currency is not None:
        fields["currency"] = account.currency
    return wire(SourceAccountOut.model_validate(fields), exclude_unset=True)


def event_payload(
    settings: Settings, company: Company, connection: Connection, account: SourceAccount
) -> SourceAccountPayload:
    return {
        "referenceCompany": events.reference_company(company, settings.public_url),
        "companyId": str(company.id),
        "connectionId": str(connection.id),
        "sourceAccount": to_wire(account),
    }


# ---------------------------------------------------------------------------------------------
# Create, update, delete


def _new_account(clock: Clock, connection: Connection, body: SourceAccountIn) -> SourceAccount:
    now = clock.now()
    account = SourceAccount(
        id=uuid.uuid4(),
        connection_id=connection.id,
        account_id=body.id,
        shape_version=2 if isinstance(body, SourceAccountV2In) else 1,
        account_name=body.account_name,
        account_type=body.account_type,
        account_number=body.account_number,
        sort_code=body.sort_code,
        currency=body.currency,
        balance=body.balance,
        status=SourceAccountStatus.PENDING,
        created_at=now,
        modified_at=now,
    )
    if isinstance(body, SourceAccountV2In):
        account.routing_info = (
            body.routing_info.model_dump(by_alias=True) if body.routing_info is not None else None
        )
        account.account_info = (
            body.account_info.model_dump(by_alias=True) if body.account_info is not None else None
        )
    return account


def create(session: Session, clock: Clock, connection: Connection, data: Any) -> SourceAccount:
    """create-source-account. The caller holds the connection row locked (duplicate check)."""
    body = parse_prototype(data)
    repo = SourceAccountRepository(session)
    if repo.get(connection.id, body.id) is not None:
        # 409 is not documented for the single create, so a duplicate is a 400.
        raise BadRequest(
            f"{DUPLICATE_ID}: data connection {connection.id} already has a source account '{body.id}'."
        )
    return repo.add(_new_account(clock, connection, body))


def create_batch(
    session: Session, clock: Clock, connection: Connection, data: Any
) -> tuple[int, list[dict[str, Any]]]:
    """create-batch-source-account: (201 | 207 | 409, result items).

    Malformed items fail the whole request (400, nothing created). Ids that already exist on
    the connection, or repeat an earlier item, come back as error items with a string
    ``statusCode`` "409"; the rest are created. 201 when all were created, 409 when none were
    (every item conflicted), 207 otherwise. An empty array creates nothing: 201 with ``[]``.
    """
    if not isinstance(data, list):
        raise BadRequest("The request body must be a JSON array of source accounts.")
    reject_nul(data)
    bodies = [parse_prototype(item, what=f"source account at index {i}") for i, item in enumerate(data)]
    repo = SourceAccountRepository(session)
    taken = repo.account_ids(connection.id)
    results: list[dict[str, Any]] = []
    created = conflicts = 0
    for body in bodies:
        if body.id in taken:
            conflicts += 1
            results.append({"sourceAccountId": body.id, "result": {"statusCode": "409", "error": DUPLICATE_ID}})
            continue
        taken.add(body.id)
        account = repo.add(_new_account(clock, connection, body))
        created += 1
        results.append(
            {"sourceAccountId": body.id, "result": {"statusCode": 201, "error": None, "account": to_wire(account)}}
        )
    if conflicts == 0:
        return 201, results
    return (409 if created == 0 else 207), results


def _differs(given: Any, stored: Any) -> bool:
    return given is not None and given != stored


def update(
    session: Session, clock: Clock, settings: Settings, company: Company, connection: Connection,
    account: SourceAccount, data: Any,
) -> SourceAccount:
    """update-source-account. v1 may change accountName, status (only to ``disconnected``) and
    balance (only while not connected); v2 only accountName. Other fields may be sent back as
    they are (or null, in v1) but not changed. Everything is checked before anything changes."""
    body = parse_update(data, account.shape_version)
    if body.id != account.account_id:
        raise BadRequest(
            f"The id in the body ('{body.id}') does not match the account in the path ('{account.account_id}'); "
            "a source account's id cannot be changed."
        )
    locked: dict[str, tuple[Any, Any]] = {
        "accountType": (body.account_type, account.account_type),
        "accountNumber": (body.account_number, account.account_number),
        "sortCode": (body.sort_code, account.sort_code),
        "currency": (body.currency, account.currency),
    }
    if isinstance(body, SourceAccountV2Update):
        locked["balance"] = (body.balance, account.balance)
        locked["routingInfo"] = (
            body.routing_info.model_dump(by_alias=True) if body.routing_info is not None else None,
            account.routing_info,
        )
        locked["accountInfo"] = (
            body.account_info.model_dump(by_alias=True) if body.account_info is not None else None,
            account.account_info,
        )
        locked["status"] = (body.status, account.status)
    changed = sorted(name for name, (given, stored) in locked.items() if _differs(given, stored))
    if changed:
        allowed = "accountName" if account.shape_version == 2 else "accountName, status and balance"
        raise BadRequest(
            f"Only {allowed} can be updated on a source account; the body changes {', '.join(changed)}."
        )
    disconnect = False
    new_balance: Decimal | None = None
    if isinstance(body, SourceAccountV1Update):
        if body.status is not None and body.status != account.status:
            if body.status != SourceAccountStatus.DISCONNECTED:
                raise BadRequest(
                    f"status can only be set to 'disconnected' (the account is '{account.status}', "
                    f"the body asks for '{body.status}')."
                )
            disconnect = True
        if body.balance is not None and body.balance != account.balance:
            if account.status == SourceAccountStatus.CONNECTED:
                raise BadRequest("balance can only be changed while the source account is not connected.")
            new_balance = body.balance
    if body.account_name is not None and body.account_name != account.account_name:
        account.account_name = body.account_name
        account.modified_at = clock.now()
    if new_balance is not None:
        account.balance = new_balance
        account.modified_at = clock.now()
    session.flush()
    if disconnect:
        mark_disconnected(session, clock, settings, company, connection, account)
    return account


def update_and_release(
    database: Database, clock: Clock, settings: Settings, company_id: uuid.UUID, connection_id: uuid.UUID,
    account_id: str, body: Any,
) -> dict[str, Any]:
    """update-source-account in its own transaction; a disconnect then reaches the platform
    (Xero: its feed is removed), best effort, after the commit."""
    with database.unit_of_work() as session:
        company, connection = resolve(session, company_id, connection_id, for_update=True)
        account = get_account(session, connection, account_id, for_update=True)
        was = account.status
        update(session, clock, settings, company, connection, account, body)
        wire = to_wire(account)
        released = was != SourceAccountStatus.DISCONNECTED and account.status == SourceAccountStatus.DISCONNECTED
        platform, connection_uuid = connections.platform_of(connection), connection.id
    if released:
        platform.release_account(database, clock, settings, connection_uuid, account_id)
    return wire


def delete_and_release(
    database: Database, clock: Clock, settings: Settings, company_id: uuid.UUID, connection_id: uuid.UUID,
    account_id: str,
) -> None:
    """delete-source-account: the platform is told first (Xero: its feed is removed), best effort,
    then the account and its mapping go."""
    with database.unit_of_work() as session:
        _, connection = resolve(session, company_id, connection_id)
        get_account(session, connection, account_id)
        platform, connection_uuid = connections.platform_of(connection), connection.id
    platform.release_account(database, clock, settings, connection_uuid, account_id)
    with database.unit_of_work() as session:
        _, connection = resolve(session, company_id, connection_id, for_update=True)
        delete(session, get_account(session, connection, account_id, for_update=True))


def delete(session: Session, account: SourceAccount) -> None:
    """delete-source-account: the account and its mapping (a column of the row) go together."""
    SourceAccountRepository(session).delete(account)


def generate_otp(connection: Connection) -> NoReturn:
    """generate-otp is Sage-only in Codat; no Sage integration exists here, so it always refuses."""
    platform = connections.platform_of(connection)
    raise BadRequest(
        "Generating a one-time password is only supported for Sage Bank Feeds (olpr) connections; "
        f"data connection {connection.id} is {platform.name} ({platform.key})."
    )


# ---------------------------------------------------------------------------------------------
# The status machine


def mark_connected(
    session: Session,
    clock: Clock,
    settings: Settings,
    company: Company,
    connection: Connection,
    account: SourceAccount,
    *,
    feed_start_date: date | datetime | None = None,
    target_account_id: str | None = None,
    target_account_name: str | None = None,
) -> None:
    """The account is connected to a target account. Records ``bankFeeds.sourceAccount.connected``
    on the transition only (already connected: the given details are updated, no event). The
    connection's own status is left alone (the IDX side or the link flow moves it)."""
    now = clock.now()
    if isinstance(feed_start_date, datetime):
        feed_start_date = feed_start_date.date()
    if feed_start_date is not None:
        account.feed_start_date = feed_start_date
    if target_account_id is not None:
        account.target_account_id = target_account_id
    if target_account_name is not None:
        account.target_account_name = target_account_name
    if account.status == SourceAccountStatus.CONNECTED:
        session.flush()
        return
    account.status = SourceAccountStatus.CONNECTED
    account.connected_at = now
    account.modified_at = now
    if account.feed_start_date is None:
        account.feed_start_date = now.date()
    session.flush()
    events.record(session, clock, EventType.SOURCE_ACCOUNT_CONNECTED,
                  event_payload(settings, company, connection, account), company=company)


def mark_disconnected(
    session: Session,
    clock: Clock,
    settings: Settings,
    company: Company,
    connection: Connection,
    account: SourceAccount,
) -> None:
    """The account no longer feeds its target. Records ``bankFeeds.sourceAccount.disconnected``
    (only on the transition). For QuickBooks Online, whose connection exists only for its feeds,
    a Linked connection whose accounts are now all disconnected becomes Unlinked (Codat's rule;
    ``connection.disconnected`` is recorded by the connection's own status machine). A Xero
    connection is the accounting connection itself and stays Linked."""
    if account.status == SourceAccountStatus.DISCONNECTED:
        return
    now = clock.now()
    account.status = SourceAccountStatus.DISCONNECTED
    account.modified_at = now
    session.flush()
    events.record(session, clock, EventType.SOURCE_ACCOUNT_DISCONNECTED,
                  event_payload(settings, company, connection, account), company=company)
    if not connections.platform_of(connection).unlinks_without_feeds:
        return
    repo = SourceAccountRepository(session)
    # Lock the connection before counting, so two accounts disconnected at once cannot both
    # see the other one still connected and leave the connection Linked.
    status = repo.lock_connection_status(connection.id)
    if (
        status == ConnectionStatus.LINKED
        and connection.status == ConnectionStatus.LINKED
        and repo.count_not_disconnected(connection.id) == 0
    ):
        connections.set_status(session, clock, settings, company, connection, ConnectionStatus.UNLINKED)
