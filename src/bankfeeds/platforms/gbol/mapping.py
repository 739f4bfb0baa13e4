"""Xero account mapping, as Codat's mapping UI and API, against the organisation's real chart.

* **Options** for a source account: the organisation's active bank accounts (``GET Accounts``,
  ``Type`` BANK) of the matching kind (``BankAccountType`` ``CREDITCARD`` for Codat's ``Credit`` /
  ``creditCard`` accounts, ``BANK`` for every other type), in the account's currency, that no
  feed connection of this app already feeds (``GET FeedConnections``) and no other source account
  of the connection holds.
* **Mapping** creates a Xero feed connection (``POST FeedConnections``: our ``accountToken``, the
  chosen ``accountId`` or, for "Create new account", the source's number and name, the type and
  currency), with an ``Idempotency-Key`` so a retry never makes a second feed. The source account
  is ``connecting`` until Xero has the feed (:func:`refresh_feed_status`: ``REJECTED`` fails the
  mapping with Xero's error; a feed with its ``accountId`` and a status other than ``PENDING`` is
  connected and ``bankFeeds.sourceAccount.connected`` fires).
* **Disconnect** sends ``FeedConnections/DeleteRequests`` and disconnects the account at once.

Xero is reached only between short transactions, never while one is open.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from bankfeeds.account_mapping.schemas import BankFeedAccountMapping
from bankfeeds.config import Settings
from bankfeeds.errors import BadRequest
from bankfeeds.kit import crypto
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection, ConnectionStatus, SourceAccount, SourceAccountStatus
from bankfeeds.platforms.gbol.client import as_error, open_api
from bankfeeds.platforms.gbol.grants import HOLDING, XeroRepository
from bankfeeds.platforms.gbol.tokens import REFRESH_PURPOSE, NotAuthorized, access_for
from bankfeeds.platforms.gbol.xero_api import Access, InvalidGrant, XeroApi, XeroError
from bankfeeds.source_accounts import service as source_accounts
from bankfeeds.source_accounts.repository import SourceAccountRepository
from bankfeeds.source_accounts.schemas import parse_datetime_text

log = logging.getLogger("bankfeeds.xero")

BANK = "BANK"
CREDITCARD = "CREDITCARD"
# Codat's example error when the target already has a feed from another source account.
FEED_EXISTS = "A feed connection already exists to this account"
REMOVED_IN_XERO = "The bank feed was removed in Xero."


def xero_account_type(account: SourceAccount) -> str:
    kind = (account.account_type or "").strip()
    credit = kind == "creditCard" if account.shape_version == 2 else kind.lower() == "credit"
    return CREDITCARD if credit else BANK


def account_token(account: SourceAccount) -> str:
    """Our id for the account at Xero (unique within the bank, at most 50 characters)."""
    return f"bf-{account.id.hex}"


@dataclass
class Chart:
    """The organisation's bank accounts and which of them already have a feed from this app."""

    accounts: list[dict[str, Any]]
    fed: set[str]
    base_currency: str | None

    def currency(self, account: dict[str, Any]) -> str | None:
        return str(account.get("CurrencyCode") or "") or self.base_currency

    def options(self, source: SourceAccount, held: set[str]) -> list[dict[str, Any]]:
        kind = xero_account_type(source)
        options = []
        for a in self.accounts:
            target = str(a.get("AccountID") or "")
            if not target or target in self.fed or target in held:
                continue
            if (str(a.get("BankAccountType") or BANK)) != kind:
                continue
            if source.currency and self.currency(a) != source.currency:
                continue
            options.append({"id": target, "name": a.get("Name"), "balance": None, "sortCode": None,
                            "accountNumber": a.get("BankAccountNumber") or None})
        return options


def load_chart(api: XeroApi, access: Access) -> Chart:
    accounts = [a for a in api.accounts(access)
                if a.get("Type") == "BANK" and str(a.get("Status") or "ACTIVE") == "ACTIVE"]
    fed = {str(f["accountId"]) for f in api.list_feed_connections(access)
           if f.get("accountId") and f.get("status") != "REJECTED"}
    base = None
    if any(not a.get("CurrencyCode") for a in accounts):
        base = str(api.organisation(access).get("BaseCurrency") or "") or None
    return Chart(accounts, fed, base)


# ---------------------------------------------------------------------------------------------
# Reads


@dataclass
class _State:
    connection_status: str
    accounts: list[SourceAccount]
    held: set[str]


def _state(database: Database, connection_id: uuid.UUID) -> _State:
    with database.unit_of_work() as session:
        connection = session.get(Connection, connection_id)
        if connection is None:
            raise BadRequest(f"Data connection {connection_id} was deleted.")
        accounts = source_accounts.list_accounts(session, connection)
        held = {a.target_account_id for a in accounts if a.status in HOLDING and a.target_account_id}
        status = connection.status
        session.expunge_all()
    return _State(status, accounts, {h for h in held if h})


def mappings(
    database: Database, clock: Clock, settings: Settings, company: Company, connection: Connection
) -> list[dict[str, Any]]:
    """get-bank-account-mapping: polls the feeds still connecting, then lists every source account
    with its target options (none before the connection is Linked)."""
    with open_api(settings, database, clock) as api:
        for account in _state(database, connection.id).accounts:
            if account.status == SourceAccountStatus.CONNECTING and account.feed_connection_id:
                try:
                    refresh_feed_status(database, clock, settings, api, connection.id, account.account_id)
                except (XeroError, NotAuthorized) as exc:
                    log.info("feed status of %s not refreshed: %s", account.id, type(exc).__name__)
        state = _state(database, connection.id)
        chart = None
        if state.connection_status == ConnectionStatus.LINKED and any(
                a.status not in HOLDING for a in state.accounts):
            try:
                chart = load_chart(api, access_for(database, clock, settings, api, connection.id))
            except (NotAuthorized, InvalidGrant):
                chart = None  # no working grant: nothing to offer (the connection says why)
            except XeroError as exc:
                raise as_error(exc, clock, connection.id) from None
    return [mapping_item(a, chart, state.held) for a in state.accounts]


def mapping_item(account: SourceAccount, chart: Chart | None, held: set[str]) -> dict[str, Any]:
    holding = account.status in HOLDING
    item: dict[str, Any] = {"sourceAccountId": account.account_id}
    # Fields the spec gives as non-nullable strings/numbers are left out when unknown.
    if account.account_name is not None:
        item["sourceAccountName"] = account.account_name
    if account.account_number is not None:
        item["sourceAccountNumber"] = account.account_number
    if account.balance is not None:
        item["sourceBalance"] = account.balance
    if account.currency is not None:
        item["sourceCurrency"] = account.currency
    item["targetAccountId"] = account.target_account_id if holding else None
    if holding and account.target_account_name is not None:
        item["targetAccountName"] = account.target_account_name
    item["status"] = account.status
    if holding:
        item["targetAccountOptions"] = None
    else:
        item["targetAccountOptions"] = chart.options(account, held) if chart is not None else []
    connected = account.status == SourceAccountStatus.CONNECTED and account.feed_start_date is not None
    item["feedStartDate"] = account.feed_start_date.isoformat() if connected and account.feed_start_date else None
    return item


# ---------------------------------------------------------------------------------------------
# Mapping


def _failed(account_id: str, target_id: str | None, error: str) -> dict[str, Any]:
    return {"sourceAccountId": account_id, "targetAccountId": target_id, "status": "Failed", "error": error}


def create_mapping(
    database: Database, clock: Clock, settings: Settings, company: Company, connection: Connection,
    body: BankFeedAccountMapping,
) -> dict[str, Any]:
    """create-bank-account-mapping: one source account, to an existing Xero bank account
    (``targetAccountId``) or to a new one named after it (no ``targetAccountId``)."""
    feed_start = parse_datetime_text(body.feed_start_date).date() if body.feed_start_date else None
    try:
        return map_account(database, clock, settings, connection.id, body.source_account_id,
                           body.target_account_id, feed_start)
    except (XeroError, NotAuthorized) as exc:
        raise as_error(exc, clock, connection.id) from None


def map_account(
    database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID, account_id: str,
    target_id: str | None, feed_start: date | None,
) -> dict[str, Any]:
    """Map one source account (the API and the hosted mapping page both come here)."""
    if target_id is not None and (not target_id.strip() or "\x00" in target_id):
        raise BadRequest("targetAccountId must be the id of one of the target account options.")
    with database.unit_of_work() as session:
        connection = session.get(Connection, connection_id)
        if connection is None:
            raise BadRequest(f"Data connection {connection_id} was deleted.")
        if connection.status != ConnectionStatus.LINKED:
            raise BadRequest(
                f"Data connection {connection.id} is {connection.status}: source accounts can be mapped once "
                "the company has linked Xero (status Linked)."
            )
        account = source_accounts.get_account(session, connection, account_id)
        repo = XeroRepository(session)
        grant = repo.grant(connection.id)
        tenant = grant.tenant_id if grant is not None else None
        others = [a for a in source_accounts.list_accounts(session, connection) if a.id != account.id]
        held = {a.target_account_id for a in others if a.status in HOLDING and a.target_account_id}
        elsewhere = (repo.targets_held_elsewhere(tenant, target_id, connection_id=connection.id)
                     if tenant and target_id else [])
        elsewhere_names = [c.company.name for c in elsewhere]
        session.expunge_all()
    holding = account.status in HOLDING
    if holding and account.feed_connection_id and target_id in (None, account.target_account_id):
        # Posting an existing mapping again: nothing new to do.
        return {"sourceAccountId": account.account_id, "targetAccountId": account.target_account_id,
                "status": account.status}
    if holding and account.target_account_id not in (None, target_id):
        return _failed(
            account.account_id, target_id,
            f"Source account '{account.account_id}' is already connected to target account "
            f"{account.target_account_id}; disconnect it before mapping it to another account.",
        )
    if target_id is not None and target_id in held:
        return _failed(account.account_id, target_id, FEED_EXISTS)
    if elsewhere_names:
        raise BadRequest(
            f"Xero account {target_id} already receives a bank feed from another company "
            f"({', '.join(sorted(elsewhere_names))}) connected to the same Xero organisation; a Xero bank "
            "account can be fed by one source account only. Choose another account or create a new one."
        )
    with open_api(settings, database, clock) as api:
        access = access_for(database, clock, settings, api, connection_id)
        chart = load_chart(api, access)
        kind = xero_account_type(account)
        name = (account.account_name or account.account_id)[:30]
        item: dict[str, Any] = {"accountToken": account_token(account), "accountType": kind,
                                "currency": account.currency}
        if target_id is None:
            number = account.account_number or account.account_id
            item["accountNumber"] = (number[-4:] if kind == CREDITCARD else number)[:40]
            item["accountName"] = name
            target_name: str | None = name
        else:
            if target_id in chart.fed:
                raise BadRequest(
                    f"Xero account {target_id} already receives a bank feed (from another company or "
                    "connection of this bank); choose another account or create a new one."
                )
            options = {o["id"]: o for o in chart.options(account, held)}
            if target_id not in options:
                raise BadRequest(
                    f"targetAccountId '{target_id}' is not one of the target account options for source "
                    f"account '{account.account_id}' (an active Xero {kind} account in "
                    f"{account.currency or 'its currency'} without a feed). List the mappings to see the "
                    "options, or leave targetAccountId out to create a new account."
                )
            item["accountId"] = target_id
            target_name = options[target_id]["name"]
        if account.feed_connection_id:
            # A feed left from before (the account was disconnected through the API, which does not
            # reach Xero): remove it, or Xero would hand it back for the same accountToken.
            api.delete_feed_connections(access, [account.feed_connection_id],
                                        idempotency_key=f"bankfeeds-replace-{account.feed_connection_id}")
        key = _idempotency_key(account, target_id)
        feed = api.create_feed_connection(access, item, idempotency_key=key)
        rejected = str(feed.get("status") or "") == "REJECTED" or not feed.get("id")
        error = _error_text(feed.get("error")) if rejected else None
        with database.unit_of_work() as session:
            row = source_accounts.get_account(session, _connection(session, connection_id), account_id,
                                              for_update=True)
            now = clock.now()
            if rejected:
                row.feed_error = (error or "Xero rejected the feed connection.")[:500]
                row.modified_at = now
            else:
                row.status = SourceAccountStatus.CONNECTING
                row.feed_connection_id = str(feed["id"])
                row.account_token = account_token(account)
                row.target_account_id = target_id
                row.target_account_name = target_name
                row.feed_error = None
                if feed_start is not None:
                    row.feed_start_date = feed_start
                row.modified_at = now
            session.flush()
        if rejected:
            return _failed(account.account_id, target_id, error or "Xero rejected the feed connection.")
        status = refresh_feed_status(database, clock, settings, api, connection_id, account_id)
    with database.unit_of_work() as session:
        row = source_accounts.get_account(session, _connection(session, connection_id), account_id)
        return {"sourceAccountId": row.account_id, "targetAccountId": row.target_account_id or target_id,
                "status": status}


def _connection(session: Session, connection_id: uuid.UUID) -> Connection:
    connection = session.get(Connection, connection_id)
    if connection is None:
        raise BadRequest(f"Data connection {connection_id} was deleted.")
    return connection


def _idempotency_key(account: SourceAccount, target_id: str | None) -> str:
    """The same attempt (same account, target and account state) always sends the same key."""
    seed = f"{account.id}:{target_id or 'new'}:{account.modified_at.isoformat()}"
    return "bankfeeds-feed-" + hashlib.sha256(seed.encode()).hexdigest()[:48]


def _error_text(error: Any) -> str | None:
    if not isinstance(error, dict):
        return None
    text = str(error.get("detail") or error.get("title") or "")
    kind = str(error.get("type") or "")
    return f"{text} ({kind})" if text and kind else (text or kind or None)


def refresh_feed_status(
    database: Database, clock: Clock, settings: Settings, api: XeroApi, connection_id: uuid.UUID, account_id: str
) -> str:
    """Ask Xero how a connecting (or connected) feed is doing and move the source account:
    ``REJECTED`` → back to ``pending`` with Xero's error; ``accountId`` and not ``PENDING`` →
    ``connected``; gone from Xero → ``pending`` (was connecting) or ``disconnected``. Returns the
    account's status. For the worker too (one call per account)."""
    with database.unit_of_work() as session:
        account = source_accounts.get_account(session, _connection(session, connection_id), account_id)
        feed_id, status = account.feed_connection_id, account.status
    if not feed_id or status not in HOLDING:
        return status
    access = access_for(database, clock, settings, api, connection_id)
    feed = api.get_feed_connection(access, feed_id)
    with database.unit_of_work() as session:
        connection = _connection(session, connection_id)
        company = connection.company
        row = source_accounts.get_account(session, connection, account_id, for_update=True)
        if row.feed_connection_id != feed_id or row.status not in HOLDING:
            return row.status  # moved on meanwhile
        now = clock.now()
        if feed is None or str(feed.get("status") or "") == "REJECTED":
            error = REMOVED_IN_XERO if feed is None else (_error_text(feed.get("error")) or "Xero rejected the feed.")
            row.feed_connection_id = None
            row.feed_error = error[:500]
            if row.status == SourceAccountStatus.CONNECTED:
                source_accounts.mark_disconnected(session, clock, settings, company, connection, row)
            else:
                row.status = SourceAccountStatus.PENDING
                row.target_account_id = None
                row.target_account_name = None
                row.modified_at = now
            session.flush()
        elif feed.get("accountId") and str(feed.get("status") or "") != "PENDING":
            source_accounts.mark_connected(
                session, clock, settings, company, connection, row,
                target_account_id=str(feed["accountId"]),
            )
        return row.status


def disconnect(database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID, account_id: str) -> None:
    """Manage connected accounts → Disconnect: Xero deletes the feed; the account is disconnected now."""
    with database.unit_of_work() as session:
        account = source_accounts.get_account(session, _connection(session, connection_id), account_id)
        feed_id = account.feed_connection_id
    if feed_id:
        with open_api(settings, database, clock) as api:
            access = access_for(database, clock, settings, api, connection_id)
            results = api.delete_feed_connections(access, [feed_id], idempotency_key=f"bankfeeds-delete-{feed_id}")
            for result in results:
                error = result.get("error")
                if str(result.get("status") or "") == "REJECTED" and isinstance(error, dict) and \
                        error.get("type") != "feed-not-found-or-already-deleted":
                    raise BadRequest(f"Xero refused to remove the feed: {_error_text(error)}")
    with database.unit_of_work() as session:
        connection = _connection(session, connection_id)
        row = source_accounts.get_account(session, connection, account_id, for_update=True)
        row.feed_connection_id = None
        if row.status in HOLDING:
            source_accounts.mark_disconnected(session, clock, settings, connection.company, connection, row)


# ---------------------------------------------------------------------------------------------
# Company information, and the clean-up before a delete


def company_information(
    database: Database, clock: Clock, settings: Settings, company: Company, connection: Connection
) -> dict[str, Any]:
    """get-company-information from the organisation (``GET Organisation``, ``GET Accounts``)."""
    try:
        with open_api(settings, database, clock) as api:
            access = access_for(database, clock, settings, api, connection.id)
            org = api.organisation(access)
            accounts = api.accounts(access)
    except (XeroError, NotAuthorized) as exc:
        raise as_error(exc, clock, connection.id) from None
    base = str(org.get("BaseCurrency") or "") or None
    currencies = {str(a["CurrencyCode"]) for a in accounts if a.get("CurrencyCode")}
    if base:
        currencies.add(base)
    ordered = ([base] if base else []) + sorted(currencies - {base})
    plan = str(org.get("Class") or "")
    return {
        "companyName": org.get("Name") or org.get("LegalName") or company.name,
        "baseCurrency": base or "XXX",
        "planType": plan.replace("_", " ").title() if plan else None,
        "multicurrencyEnabled": len(ordered) > 1,
        "currencies": ordered,
    }


# Seconds each call may take while deleting: a Xero that hangs must not hold the delete long.
RELEASE_TIMEOUT = 5.0


def release_account(
    database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID, account_id: str
) -> None:
    """A source account disconnected or deleted through the API: remove its feed in Xero (best
    effort; a feed left behind is removed when the account is mapped again)."""
    with database.unit_of_work() as session:
        account = SourceAccountRepository(session).get(connection_id, account_id)
        feed_id = account.feed_connection_id if account is not None else None
    if not feed_id:
        return
    with open_api(settings, database, clock, timeout=RELEASE_TIMEOUT) as api:
        try:
            access = access_for(database, clock, settings, api, connection_id)
            api.delete_feed_connections(access, [feed_id], idempotency_key=f"bankfeeds-delete-{feed_id}")
        except (XeroError, NotAuthorized) as exc:
            log.warning("Xero feed of source account %s not removed: %s", account_id, type(exc).__name__)
            return
    with database.unit_of_work() as session:
        row = SourceAccountRepository(session).get(connection_id, account_id, for_update=True)
        if row is not None and row.feed_connection_id == feed_id and row.status not in HOLDING:
            row.feed_connection_id = None


def release(database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID) -> None:
    """Before a Xero connection is deleted: remove its feeds in Xero (DeleteRequests) and revoke
    the refresh token (which ends the app's access to the organisation). Best effort: whatever
    Xero answers, or if it does not answer, the delete goes on; failures are logged (no tokens)."""
    with database.unit_of_work() as session:
        repo = XeroRepository(session)
        if repo.grant(connection_id) is None:
            return
        feeds = repo.feed_ids(connection_id)
    with open_api(settings, database, clock, timeout=RELEASE_TIMEOUT) as api:
        try:
            access = access_for(database, clock, settings, api, connection_id)
            if feeds:
                api.delete_feed_connections(access, feeds, idempotency_key=f"bankfeeds-release-{connection_id}")
        except (XeroError, NotAuthorized) as exc:
            log.warning("Xero feeds of connection %s not removed before delete: %s", connection_id,
                        type(exc).__name__)
        with database.unit_of_work() as session:
            grant = XeroRepository(session).grant(connection_id)
            refresh = (crypto.decrypt(settings, grant.refresh_token_encrypted, purpose=REFRESH_PURPOSE)
                       if grant is not None else None)
        if refresh is None:
            return
        try:
            api.revoke(refresh)
        except XeroError as exc:
            log.warning("Xero grant of connection %s not revoked before delete: %s", connection_id,
                        type(exc).__name__)
