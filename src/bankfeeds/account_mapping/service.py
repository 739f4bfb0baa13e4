"""Account mapping through the API (Xero, ``gbol``) and company information.

**There is no Xero behind this server.** A real Codat lists the Xero organisation's bank and
credit-card accounts as ``targetAccountOptions``. Here the options are a small stand-in chart,
said to be one in its names: for each source account, two accounts of its kind ("bank account"
for debit-like types, "credit card" for ``Credit``/``creditCard``/``loan``) in its currency,
named ``Stand-in bank account 1 (GBP)`` and so on, with ids derived from the connection id
(uuid5), so they are stable across calls and differ between connections. Like Xero's, the
options match the source account's currency and type and leave out targets already fed by
another account of the connection; there are none until the connection is ``Linked``.
Mapping without a ``targetAccountId`` "creates" a new target named after the source account.

A mapping moves the source account to ``connecting`` and, with nothing remote to wait for, on
to ``connected`` through the source-account status machine (which records the webhook event).
The response still says ``connecting``, as Codat's does; GET shows ``connected`` at once.

QuickBooks Online maps accounts inside QuickBooks: the mapping endpoints refuse its
connections (POST with a 400; GET, which documents no 400, with a 404 in Codat's envelope).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from bankfeeds.account_mapping.repository import MappingRepository
from bankfeeds.account_mapping.schemas import BankFeedAccountMapping
from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.errors import BadRequest, NotFound
from bankfeeds.kit.clock import Clock
from bankfeeds.models import Company, Connection, SourceAccount
from bankfeeds.source_accounts import service as source_accounts
from bankfeeds.source_accounts.schemas import parse_datetime_text

# Display names used in messages (Codat's own wording for the integrations).
_INTEGRATION_NAMES = {"hcws": "QuickBooks Online", "gbol": "Xero", "olpr": "Sage"}
# Codat supports get-company-information for Xero and NetSuite; only Xero exists here.
COMPANY_INFORMATION_PLATFORMS = frozenset({"gbol"})
FEED_EXISTS = "A feed connection already exists to this account"


def _integration(connection: Connection) -> str:
    name = _INTEGRATION_NAMES.get(connection.platform_key)
    return name if name is not None else str(connections.platform_of(connection).name)


def _in_platform_message(connection: Connection) -> str:
    name = _integration(connection)
    return (
        f"Account mapping through the API is not available for {name} connections: {name} maps "
        f"source accounts inside {name} itself (the user links them there), so data connection "
        f"{connection.id} has no mappings to list or create here."
    )


# ---------------------------------------------------------------------------------------------
# Stand-in target accounts


def _is_credit(account: SourceAccount) -> bool:
    kind = (account.account_type or "").strip()
    if account.shape_version == 2:
        return kind in ("creditCard", "loan")
    return kind.lower() == "credit"


def target_options(connection: Connection, account: SourceAccount, held: set[str]) -> list[dict[str, Any]]:
    """The stand-in target accounts the source account may be mapped to (see the module doc)."""
    currency = account.currency or "XXX"
    kind, label = ("CREDITCARD", "credit card") if _is_credit(account) else ("BANK", "bank account")
    options = []
    for n in (1, 2):
        target_id = str(uuid.uuid5(connection.id, f"stand-in:{kind}:{currency}:{n}"))
        if target_id in held:
            continue
        options.append(
            {"id": target_id, "name": f"Stand-in {label} {n} ({currency})", "balance": None,
             "sortCode": None, "accountNumber": None}
        )
    return options


def new_target(connection: Connection, account: SourceAccount) -> tuple[str, str]:
    """Id and name of the target "created" when a mapping names no target: the source's name."""
    return str(uuid.uuid5(connection.id, f"new:{account.account_id}")), account.account_name or account.account_id


# ---------------------------------------------------------------------------------------------
# Operations


def list_mappings(session: Session, connection: Connection) -> list[dict[str, Any]]:
    """get-bank-account-mapping: one ``BankFeedMapping`` per source account."""
    if not connections.platform_of(connection).maps_through_api:
        raise NotFound(_in_platform_message(connection))
    repo = MappingRepository(session)
    held_all = repo.held_targets(connection.id)
    linked = connection.status == connections.LINKED
    items = []
    for account in source_accounts.list_accounts(session, connection):
        holding = account.status in (source_accounts.CONNECTING, source_accounts.CONNECTED)
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
            item["targetAccountOptions"] = target_options(connection, account, held_all) if linked else []
        connected = account.status == source_accounts.CONNECTED and account.feed_start_date is not None
        item["feedStartDate"] = account.feed_start_date.isoformat() if connected and account.feed_start_date else None
        items.append(item)
    return items


def _failed(account: SourceAccount, target_id: str | None, error: str) -> dict[str, Any]:
    return {"sourceAccountId": account.account_id, "targetAccountId": target_id, "status": "Failed", "error": error}


def create_mapping(
    session: Session, clock: Clock, settings: Settings, company: Company, connection: Connection,
    body: BankFeedAccountMapping,
) -> dict[str, Any]:
    """create-bank-account-mapping: map one source account (the caller holds the connection locked)."""
    if not connections.platform_of(connection).maps_through_api:
        raise BadRequest(_in_platform_message(connection))
    if connection.status != connections.LINKED:
        raise BadRequest(
            f"Data connection {connection.id} is {connection.status}: source accounts can be mapped once "
            f"the company has linked {_integration(connection)} (status Linked)."
        )
    account = source_accounts.get_account(session, connection, body.source_account_id, for_update=True)
    held = MappingRepository(session).held_targets(connection.id, excluding=account.id)
    target_name: str | None
    if body.target_account_id is None:
        target_id, target_name = new_target(connection, account)
    else:
        target_id = body.target_account_id
        if target_id in held:
            return _failed(account, target_id, FEED_EXISTS)
        if target_id == account.target_account_id:
            target_name = account.target_account_name
        else:
            options = {o["id"]: o for o in target_options(connection, account, held)}
            if target_id not in options:
                raise BadRequest(
                    f"targetAccountId '{target_id}' is not one of the target account options for source "
                    f"account '{account.account_id}'. List the mappings to see the options, or leave "
                    "targetAccountId out to create a new target account."
                )
            target_name = str(options[target_id]["name"])
    holding = account.status in (source_accounts.CONNECTING, source_accounts.CONNECTED)
    if holding and account.target_account_id not in (None, target_id):
        return _failed(
            account, target_id,
            f"Source account '{account.account_id}' is already connected to target account "
            f"{account.target_account_id}; disconnect it before mapping it to another account.",
        )
    feed_start = parse_datetime_text(body.feed_start_date).date() if body.feed_start_date else None
    if account.status != source_accounts.CONNECTED:
        account.status = source_accounts.CONNECTING
        account.modified_at = clock.now()
        session.flush()
    source_accounts.mark_connected(
        session, clock, settings, company, connection, account,
        feed_start_date=feed_start, target_account_id=target_id, target_account_name=target_name,
    )
    return {"sourceAccountId": account.account_id, "targetAccountId": target_id, "status": "connecting"}


def company_information(session: Session, company: Company, connection: Connection) -> dict[str, Any]:
    """get-company-information (``CompanyInformation``) for Xero connections.

    With no Xero organisation to ask, the name is the company's, the base currency that of its
    first source account (``XXX``, ISO 4217's "no currency", before there is one), and
    multi-currency is reported as enabled when its source accounts use more than one currency.
    """
    if connection.platform_key not in COMPANY_INFORMATION_PLATFORMS:
        raise BadRequest(
            f"Get company information is not supported for {_integration(connection)} connections "
            "(Codat supports it for Xero and Oracle NetSuite)."
        )
    currencies = MappingRepository(session).currencies(connection.id)
    return {
        "companyName": company.name,
        "baseCurrency": currencies[0] if currencies else "XXX",
        "planType": None,
        "multicurrencyEnabled": len(currencies) > 1,
        "currencies": currencies,
    }
