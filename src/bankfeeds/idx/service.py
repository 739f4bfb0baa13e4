"""The IDX API's rules: who is calling, what they may see, and the status changes a pull causes.

* Auth: ``X-Partner-Key: base64(partner key)`` and ``Authorization: Basic base64(username:password)``
  with a pair from generate-credentials. A pair sees the source accounts of its own connection only.
* A successful call with a connection's credentials makes the connection ``Linked``
  (``connection.connected`` the first time, ``connection.reconnected`` after Unlinked/Deauthorized).
* The first transactions pull of an account (or one after it was disconnected) connects it, with
  today as its feed start date unless the caller says otherwise; every transactions pull stamps
  ``last_pulled_at``, which the 10-day disconnection task reads.
* Failed logins with the valid partner key are throttled per (username, address); wrong
  partner keys per address alone (``credentials.throttle``).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.credentials import service as credentials
from bankfeeds.credentials import throttle
from bankfeeds.credentials.repository import CredentialRepository
from bankfeeds.errors import BadRequest, BankfeedsError, NotFound, Unauthorized
from bankfeeds.idx.repository import IdxRepository
from bankfeeds.idx.schemas import (
    AccountDisplayInfo,
    AccountHolderInfo,
    Balance,
    BankRoutingInfo,
    CashCardAccountInfo,
    CreditCardAccountInfo,
    DepositAccountInfo,
    IntuitAccount,
    IntuitTransaction,
    LoanAccountInfo,
    Money,
)
from bankfeeds.kit import inputs
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.jsonutil import decimal_text, format_datetime
from bankfeeds.kit.pagination import PageWindow
from bankfeeds.kit.security import same
from bankfeeds.models import (
    Company,
    Connection,
    ConnectionStatus,
    Credential,
    FeedPull,
    SourceAccount,
    SourceAccountStatus,
)
from bankfeeds.observability import metrics
from bankfeeds.source_accounts import service as source_accounts

MAX_PAGE_SIZE = 2000
# The spec declares no paging parameters: a caller that does not page gets up to this many.
DEFAULT_PAGE_SIZE = 1000
_MAX_HEADER = 1024
_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Basic realm="idx"'}


# ---------------------------------------------------------------------------- authentication


@dataclass(frozen=True)
class Principal:
    """A caller that proved a credential pair: it acts for that pair's connection only."""

    credential_id: uuid.UUID
    connection_id: uuid.UUID


def _unauthorized(message: str) -> Unauthorized:
    return Unauthorized(message, headers=dict(_UNAUTHORIZED_HEADERS))


def _b64(text: str) -> str | None:
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def parse_basic(authorization: str | None) -> tuple[str, str] | None:
    """``Basic base64(username:password)`` as its two halves, or None if it is not that."""
    if not authorization or len(authorization) > _MAX_HEADER:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    decoded = _b64(token)
    if decoded is None or ":" not in decoded:
        return None
    username, _, password = decoded.partition(":")
    if not username or not password:
        return None
    return username, password


def partner_key_ok(settings: Settings, header: str | None) -> bool:
    if not header or len(header) > _MAX_HEADER:
        return False
    decoded = _b64(header)
    return decoded is not None and same(decoded, settings.idx_partner_key)


def login(
    session: Session, clock: Clock, settings: Settings,
    authorization: str | None, partner_key: str | None, address: str,
) -> Principal | BankfeedsError:
    """Check the two headers. Runs in its own transaction, which commits failure counts too, so
    the error is returned for the caller to raise after the commit."""
    if not authorization or not partner_key:
        return _unauthorized(
            "Unauthorized: send 'Authorization: Basic base64(username:password)' with credentials "
            "from generate-credentials, and 'X-Partner-Key: base64(partner key)'."
        )
    if not partner_key_ok(settings, partner_key):
        # Not the platform: counted against the address alone, never against a username.
        partner = [throttle.subject(settings, throttle.IDX_PARTNER_ADDRESS, address)]
        blocked = throttle.check(session, clock, partner)
        if blocked is not None:
            return blocked
        throttle.record_failure(session, clock, partner)
        return _unauthorized("Unauthorized: the X-Partner-Key header is not valid.")
    pair = parse_basic(authorization)
    if pair is None:
        return _unauthorized("Unauthorized: the username or password is not valid, or it has been revoked.")
    subjects = [throttle.subject(settings, throttle.IDX_USER_ADDRESS,
                                 credentials.normalise_username(pair[0]), address)]
    blocked = throttle.check(session, clock, subjects)
    if blocked is not None:
        return blocked
    credential = credentials.verify(session, settings, *pair)
    if credential is None:
        throttle.record_failure(session, clock, subjects)
        return _unauthorized("Unauthorized: the username or password is not valid, or it has been revoked.")
    throttle.record_success(session, subjects)
    return Principal(credential.id, credential.connection_id)


# ---------------------------------------------------------------------------- query parameters


def _int(name: str, raw: str | None, default: int, high: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not re.fullmatch(r"[0-9]{1,10}", text):
        raise BadRequest(f"'{name}' must be a whole number between 1 and {high}, not '{raw[:40]}'.")
    value = int(text)
    if not 1 <= value <= high:
        raise BadRequest(f"'{name}' must be between 1 and {high}.")
    return value


def paging(page: str | None, page_number: str | None, page_size: str | None) -> PageWindow:
    """``page`` (or ``pageNumber``, the envelope's own name) and ``pageSize`` (at most 2000)."""
    number = _int("page", page, 1, 2**31 - 1)
    alias = _int("pageNumber", page_number, number, 2**31 - 1)
    if page is not None and page_number is not None and alias != number:
        raise BadRequest("'page' and 'pageNumber' disagree; send one of them.")
    return PageWindow(alias, _int("pageSize", page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE))


def parse_day(name: str, raw: str | None) -> datetime | None:
    """``YYYY-MM-DD`` as the UTC midnight that starts it (an ISO date-time is taken as given)."""
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = date.fromisoformat(text)
            parsed = datetime(d.year, d.month, d.day, tzinfo=UTC)
        else:
            if len(text) > 40 or not re.fullmatch(r"\d{4}-\d{2}-\d{2}T[0-9:.+\-Z]+", text):
                raise ValueError
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"'{name}' must be a date in the form YYYY-MM-DD, not '{raw[:40]}'.") from None
    return inputs.in_range(parsed, f"'{name}'")


@dataclass(frozen=True)
class Window:
    """``start <= modifiedDate < end``; either side may be open."""

    start: datetime | None
    end: datetime | None


def window(start_date: str | None, end_date: str | None) -> Window:
    start, end = parse_day("startDate", start_date), parse_day("endDate", end_date)
    if start is not None and end is not None and end < start:
        raise BadRequest("'endDate' must not be before 'startDate' (startDate is inclusive, endDate exclusive).")
    return Window(start, end)


@dataclass(frozen=True)
class Linking:
    """How QuickBooks linked an account, for the pull that connects it. Optional request headers
    (``X-Feed-Start-Date``, ``X-Target-Account-Id``, ``X-Target-Account-Name``), outside the spec."""

    feed_start_date: date | None = None
    target_account_id: str | None = None
    target_account_name: str | None = None


def linking(clock: Clock, feed_start: str | None, target_id: str | None, target_name: str | None) -> Linking:
    start = None
    if feed_start is not None and feed_start.strip():
        text = feed_start.strip()
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError
            start = date.fromisoformat(text)
        except ValueError:
            raise BadRequest(f"X-Feed-Start-Date must be a date in the form YYYY-MM-DD, not '{text[:40]}'.") from None
        if start > clock.now().date():
            raise BadRequest("X-Feed-Start-Date may not be in the future.")
    for name, value, limit in (("X-Target-Account-Id", target_id, 200), ("X-Target-Account-Name", target_name, 500)):
        if value is not None and len(value) > limit:
            raise BadRequest(f"{name} is longer than {limit} characters.")
    return Linking(start, target_id or None, target_name or None)


# ---------------------------------------------------------------------------- pulls


@dataclass
class _Caller:
    credential: Credential
    connection: Connection
    company: Company


def _caller(session: Session, clock: Clock, settings: Settings, principal: Principal) -> _Caller:
    """Re-read the pair inside the request's transaction (revoked or deleted meanwhile: 401), stamp
    it, and link the connection if it is not Linked yet."""
    repo = IdxRepository(session)
    credential = CredentialRepository(session).active(principal.credential_id)
    connection = repo.connection(principal.connection_id)
    company = repo.company(connection.company_id) if connection is not None else None
    if credential is None or connection is None or company is None:
        raise _unauthorized("Unauthorized: the username or password is not valid, or it has been revoked.")
    now = clock.now()
    credential.last_used_at = now
    if connection.status != ConnectionStatus.LINKED:
        locked = repo.connection(connection.id, for_update=True)
        if locked is not None and locked.status != ConnectionStatus.LINKED:
            connections.set_status(session, clock, settings, company, locked, ConnectionStatus.LINKED)
    return _Caller(credential, connection, company)


def list_accounts(
    session: Session, clock: Clock, settings: Settings, principal: Principal, page: PageWindow
) -> dict[str, Any]:
    caller = _caller(session, clock, settings, principal)
    rows, total = IdxRepository(session).accounts(caller.connection.id, page.offset, page.page_size)
    results = [account_to_wire(a) for a in rows]
    metrics.on_commit(session, lambda: metrics.IDX_PULLS.labels("accounts").inc())
    return _envelope(results, page, total)


def list_transactions(
    session: Session, clock: Clock, settings: Settings, principal: Principal,
    account_id: str, span: Window, page: PageWindow, link: Linking,
) -> dict[str, Any]:
    caller = _caller(session, clock, settings, principal)
    repo = IdxRepository(session)
    account = repo.account(caller.connection.id, account_id)
    if account is None:
        raise NotFound(f"No bank account with ID {account_id[:200]} was found for this connection.")
    if account.status != SourceAccountStatus.CONNECTED:
        locked = repo.account(caller.connection.id, account_id, for_update=True)
        if locked is not None and locked.status != SourceAccountStatus.CONNECTED:
            _connect(session, clock, settings, caller, locked, link)
    now = clock.now()
    account.last_pulled_at = now
    caller.connection.last_sync = now
    rows, total = repo.transactions(account.id, span.start, span.end, page.offset, page.page_size)
    kind = account_kind(account)
    results = [transaction_to_wire(t, account, kind) for t in rows]
    delivered = len(results)
    # The pull's history (console charts, support): one row per transactions call.
    session.add(FeedPull(source_account_id=account.id, pulled_at=now, transactions=delivered))

    def count() -> None:
        metrics.IDX_PULLS.labels("transactions").inc()
        metrics.TRANSACTIONS_DELIVERED.labels(caller.connection.platform_key).inc(delivered)

    metrics.on_commit(session, count)
    return _envelope(results, page, total)


def _connect(
    session: Session, clock: Clock, settings: Settings, caller: _Caller, account: SourceAccount, link: Linking
) -> None:
    source_accounts.mark_connected(
        session, clock, settings, caller.company, caller.connection, account,
        feed_start_date=link.feed_start_date or clock.now().date(),
        target_account_id=link.target_account_id,
        target_account_name=link.target_account_name,
    )


def _envelope(results: list[Any], page: PageWindow, total: int) -> dict[str, Any]:
    return {"results": results, "pageNumber": page.page, "pageSize": page.page_size, "totalResults": total}


# ---------------------------------------------------------------------------- mapping to IDX shapes

# Codat account type (v2 enum, or v1 Debit/Credit) -> IDX accountType and accountSubType.
_ACCOUNT_KINDS: dict[str, tuple[str, str]] = {
    "checking": ("deposit", "checking"),
    "savings": ("deposit", "savings"),
    "creditcard": ("creditcard", "creditcard"),
    "loan": ("loan", "loan"),
    "prepaidcard": ("cashcard", "prepaidcard"),
    "debit": ("deposit", "checking"),
    "credit": ("creditcard", "creditcard"),
}

# Codat transactionType -> IDX *TransactionType, per IDX account type; missing ones go by the sign.
_DEPOSIT_TYPES = {
    "Credit": "credit", "Debit": "debit", "Int": "interest", "Div": "dividend", "Fee": "fee",
    "SerChg": "servicecharge", "Dep": "deposit", "Atm": "atm", "Pos": "pointofsale", "Xfer": "transfer",
    "Check": "check", "Payment": "payment", "Cash": "cash", "DirectDep": "directdeposit",
    "DirectDebit": "directdebit", "RepeatPmt": "repeatpayment",
}
_TRANSACTION_TYPES: dict[str, dict[str, str]] = {
    "deposit": _DEPOSIT_TYPES,
    "cashcard": {"Credit": "credit", "Debit": "debit", "Fee": "fee", "SerChg": "srvchg", "Atm": "atm",
                 "Cash": "cash", "Payment": "payment"},
    "creditcard": {"Credit": "credit", "Debit": "debit", "Int": "interestpaid", "Fee": "fee", "Xfer": "transfer",
                   "Check": "check", "Payment": "payment", "Pos": "charge", "DirectDebit": "achdebit",
                   "DirectDep": "achdeposit"},
    "loan": {"Credit": "credit", "Debit": "debit", "Int": "interest", "Fee": "fee", "Xfer": "transfer",
             "Check": "check", "Payment": "payment", "DirectDebit": "achdebit"},
}
_INFO_KEY = {
    "deposit": ("depositTransactionInfo", "depositTransactionType"),
    "cashcard": ("cashCardTransactionInfo", "cashCardTransactionType"),
    "creditcard": ("creditCardTransactionInfo", "creditCardTransactionType"),
    "loan": ("loanTransactionInfo", "loanTransactionType"),
}


def account_kind(account: SourceAccount) -> tuple[str, str]:
    return _ACCOUNT_KINDS.get((account.account_type or "").lower(), ("deposit", "checking"))


def _money(currency: str | None, amount: Decimal | None) -> Money | None:
    return None if amount is None else Money(currency=currency, amount=decimal_text(amount))


def account_to_wire(account: SourceAccount) -> dict[str, Any]:
    kind, sub_type = account_kind(account)
    info = dict(account.account_info or {})
    routing = dict(account.routing_info or {})
    available = info.get("availableBalance")
    if isinstance(available, bool) or not isinstance(available, Decimal | int):
        available = account.balance
    balance = Balance(
        balance_as_of=format_datetime(account.modified_at),
        available_balance=_money(account.currency, None if available is None else Decimal(available)),
        current_balance=_money(account.currency, account.balance),
    )
    routes = []
    if routing.get("bankCode"):
        routes.append(BankRoutingInfo(id=str(routing["bankCode"]), type=str(routing.get("type") or "bankcode")))
    elif account.sort_code:
        routes.append(BankRoutingInfo(id=account.sort_code, type="sortcode"))
    name = account.account_name or account.account_id
    out = IntuitAccount(
        id=account.account_id,
        account_display_info=AccountDisplayInfo(
            display_name=name,
            description=str(info["description"]) if info.get("description") else name,
            nickname=str(info["nickname"]) if info.get("nickname") else None,
        ),
        account_type=kind,
        account_number=account.account_number,
        primary_currency=account.currency,
        account_open_date=str(info["accountOpenDate"]) if info.get("accountOpenDate") else None,
        bank_routing_info=routes,
        account_holder_info=AccountHolderInfo(),
        modified_date=format_datetime(account.modified_at),
    )
    if kind == "deposit":
        out.deposit_account_info = DepositAccountInfo(account_sub_type=sub_type, deposit_balance=balance)
    elif kind == "cashcard":
        out.cash_card_account_info = CashCardAccountInfo(account_sub_type=sub_type, cash_card_balance=balance)
    elif kind == "creditcard":
        out.credit_card_account_info = CreditCardAccountInfo(account_sub_type=sub_type, credit_card_balance=balance)
    else:
        out.loan_account_info = LoanAccountInfo(account_sub_type=sub_type,
                                                loan_balance=_money(account.currency, account.balance))
    return out.model_dump(mode="python", by_alias=True)


def transaction_to_wire(row: Row[Any], account: SourceAccount, kind: tuple[str, str]) -> IntuitTransaction:
    """A row of ``IdxRepository.transactions`` as an IDX transaction (see ``TRANSACTION_COLUMNS``)."""
    account_type = kind[0]
    day = row.date.date().isoformat()
    amount: Decimal = row.amount
    negative = amount < 0
    detail = _TRANSACTION_TYPES[account_type].get(row.transaction_type or "", "debit" if negative else "credit")
    info_key, type_key = _INFO_KEY[account_type]
    body: IntuitTransaction = {
        "transactionId": row.transaction_id,
        "accountId": account.account_id,
        "accountType": account_type,
        "transactionDate": day,
        "postedDate": day,
        "fundsAvailableDate": day,
        "transactionDescription": row.description,
        "referenceNumber": row.reference,
        "amount": {"currency": account.currency, "amount": decimal_text(amount)},
        "transactionValueType": "DEBIT" if negative else "CREDIT",
        "transactionMutability": False,
        "status": "POSTED",
        "depositTransactionInfo": None,
        "cashCardTransactionInfo": None,
        "creditCardTransactionInfo": None,
        "lineOfCreditTransactionInfo": None,
        "loanTransactionInfo": None,
        "modifiedDate": format_datetime(row.modified_at),
    }
    body[info_key] = {type_key: detail}  # type: ignore[literal-required]
    if row.counterparty is not None:
        # payeeName is a string, not nullable, in the spec: left out when there is no counterparty.
        body["payeeName"] = row.counterparty
    return body
