"""Feed health per source account, computed from what the hub already knows (see repository.py).

``needs_attention`` names, most urgent first, why support should look at a feed:
``disconnected``, ``near_disconnection`` (QuickBooks: 3 days or fewer before its inactivity
disconnection), ``statement_rejected`` (Xero refused the last statement), ``push_failed`` (the
last push failed), ``backlog_stale`` (the oldest transaction waiting is over a day old) and
``balance_chain_broken``.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from bankfeeds.companies import service as companies
from bankfeeds.config import Settings
from bankfeeds.errors import NotFound, ValidationItem
from bankfeeds.feed_health import chain
from bankfeeds.feed_health.repository import FeedHealthRepository
from bankfeeds.feed_health.schemas import (
    Backlog,
    BalanceChain,
    ChainBreak,
    CompanyFeedHealth,
    ConnectionFeedHealth,
    LastError,
    LastPush,
    SourceAccountFeedHealth,
)
from bankfeeds.kit.clock import Clock
from bankfeeds.models import (
    Company,
    Connection,
    ConnectionStatus,
    PushOperationStatus,
    SourceAccount,
    SourceAccountStatus,
)
from bankfeeds.platforms import PLATFORMS

QUICKBOOKS = "hcws"
NEAR_DISCONNECTION_DAYS = 3
STALE_BACKLOG = timedelta(days=1)
ATTENTION_ORDER = ("disconnected", "near_disconnection", "statement_rejected", "push_failed", "backlog_stale",
                   "balance_chain_broken")


@dataclass(frozen=True)
class _Ctx:
    session: Session
    now: datetime
    settings: Settings


def _platform_name(key: str) -> str:
    try:
        return PLATFORMS[key].short_name
    except KeyError:
        return key


def _link(transaction_id: str, amount: Any, balance: Any) -> chain.Link:
    """A stored transaction read back (amounts exact: Decimal on both databases) as a chain link."""
    return chain.Link(transaction_id, Decimal(amount), None if balance is None else Decimal(balance))


def balance_chain(session: Session, account: SourceAccount) -> BalanceChain:
    rows = FeedHealthRepository(session).chain_rows(account)
    links = [_link(r.transaction_id, r.amount, r.balance) for r in rows]
    found = chain.first_break(links)
    brk = None
    if found is not None:
        brk = ChainBreak(kind=found.kind, previous_transaction_id=found.previous_transaction_id,
                         transaction_id=found.transaction_id, expected_balance=found.expected_balance,
                         balance=found.balance, message=chain.describe(found))
    return BalanceChain(checked_transactions=len(links), intact=found is None, first_break=brk)


def _disconnection(ctx: _Ctx, connection: Connection, account: SourceAccount) -> tuple[int | None, datetime | None]:
    if connection.platform_key != QUICKBOOKS or account.status != SourceAccountStatus.CONNECTED:
        return None, None
    since = account.last_pulled_at or account.connected_at
    if since is None:
        return None, None
    due = since + timedelta(days=ctx.settings.source_account_disconnect_days)
    left = max(0, math.ceil((due - ctx.now).total_seconds() / 86400))
    return left, due


def account_health(
    ctx: _Ctx, company: Company, connection: Connection, account: SourceAccount,
) -> SourceAccountFeedHealth:
    repo = FeedHealthRepository(ctx.session)
    quickbooks = connection.platform_key == QUICKBOOKS
    pending = repo.pull_backlog(account) if quickbooks else repo.delivery_backlog(account)
    age = None if pending.oldest is None else max(0, int((ctx.now - pending.oldest).total_seconds()))
    backlog = Backlog(count=pending.count, oldest_accepted_at=pending.oldest, oldest_age_seconds=age)
    days_left, due = _disconnection(ctx, connection, account)
    push = repo.last_push(company.id, account)
    last_push = None if push is None else LastPush(
        push_operation_key=str(push.key), status=push.status, requested_date=push.requested_at,
        completed_date=push.completed_at, transaction_count=push.transaction_count, error_message=push.error_message)
    rejected = None if quickbooks else repo.last_rejected_statement(account)
    last_error = _last_error(repo, company, account, rejected)
    balances = balance_chain(ctx.session, account)

    reasons: set[str] = set()
    if account.status == SourceAccountStatus.DISCONNECTED or connection.status in (
            ConnectionStatus.UNLINKED, ConnectionStatus.DEAUTHORIZED):
        reasons.add("disconnected")
    if days_left is not None and days_left <= NEAR_DISCONNECTION_DAYS:
        reasons.add("near_disconnection")
    if rejected is not None and (push is None or push.status != PushOperationStatus.SUCCESS):
        reasons.add("statement_rejected")
    if push is not None and push.status in (PushOperationStatus.FAILED, PushOperationStatus.TIMED_OUT):
        reasons.add("push_failed")
    if pending.oldest is not None and ctx.now - pending.oldest > STALE_BACKLOG:
        reasons.add("backlog_stale")
    if not balances.intact:
        reasons.add("balance_chain_broken")

    return SourceAccountFeedHealth(
        source_account_id=account.account_id, account_name=account.account_name,
        account_number=account.account_number, company_id=str(company.id), connection_id=str(connection.id),
        platform=_platform_name(connection.platform_key), platform_key=connection.platform_key,
        status=account.status, connection_status=connection.status,
        last_pulled_date=account.last_pulled_at if quickbooks else None,
        last_delivered_date=None if quickbooks else repo.last_delivered_at(account),
        backlog=backlog, days_until_disconnection=days_left, disconnection_date=due,
        last_push=last_push, last_error=last_error, balance_chain=balances,
        needs_attention=[r for r in ATTENTION_ORDER if r in reasons],
    )


def _last_error(repo: FeedHealthRepository, company: Company, account: SourceAccount,
                rejected: object) -> LastError | None:
    from bankfeeds.models import StatementDelivery

    candidates: list[LastError] = []
    failed = repo.last_push(company.id, account, failed=True)
    if failed is not None and failed.error_message:
        candidates.append(LastError(source="push", date=failed.completed_at or failed.requested_at,
                                    message=failed.error_message))
    if isinstance(rejected, StatementDelivery) and rejected.last_error:
        candidates.append(LastError(source="statement", date=rejected.created_at,
                                    message=_statement_error(rejected.last_error)))
    if account.feed_error:
        candidates.append(LastError(source="mapping", date=account.modified_at, message=account.feed_error))
    if not candidates:
        return None
    return max(candidates, key=lambda e: e.date.timestamp() if e.date else 0.0)


def _statement_error(detail: dict[str, Any]) -> str:
    """Xero's reason in words: the first problem's detail (``{"errors": [...]}`` or one problem)."""
    errors = detail.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else detail
    text = first.get("detail") or first.get("message") or first.get("title") or first.get("type")
    return f"Xero rejected the statement: {text}"[:500] if text else "Xero rejected the statement."


def context(session: Session, clock: Clock, settings: Settings) -> _Ctx:
    return _Ctx(session, clock.now(), settings)


def _connection_health(ctx: _Ctx, company: Company, connection: Connection,
                       accounts: list[SourceAccount]) -> ConnectionFeedHealth:
    return ConnectionFeedHealth(
        company_id=str(company.id), connection_id=str(connection.id),
        platform=_platform_name(connection.platform_key), platform_key=connection.platform_key,
        status=connection.status,
        source_accounts=[account_health(ctx, company, connection, a) for a in accounts])


def for_connection(session: Session, clock: Clock, settings: Settings, company_id: uuid.UUID,
                   connection_id: uuid.UUID) -> ConnectionFeedHealth:
    company = companies.get(session, company_id)
    repo = FeedHealthRepository(session)
    connection = next((c for c in repo.connections(company.id) if c.id == connection_id), None)
    if connection is None:
        raise NotFound(f"Data connection {connection_id} not found")
    return _connection_health(context(session, clock, settings), company, connection, repo.accounts([connection.id]))


def for_company(session: Session, clock: Clock, settings: Settings, company_id: uuid.UUID) -> CompanyFeedHealth:
    company = companies.get(session, company_id)
    return for_company_row(session, clock, settings, company)


def for_company_row(session: Session, clock: Clock, settings: Settings, company: Company) -> CompanyFeedHealth:
    repo = FeedHealthRepository(session)
    connections = repo.connections(company.id)
    accounts = repo.accounts([c.id for c in connections])
    ctx = context(session, clock, settings)
    return CompanyFeedHealth(
        company_id=str(company.id), company_name=company.name,
        connections=[_connection_health(ctx, company, c, [a for a in accounts if a.connection_id == c.id])
                     for c in connections])


def chain_start(account: SourceAccount) -> chain.Link | None:
    """The account's newest stored transaction, which a push's first balance must follow: its
    chain tip, kept on the account by every write that stores transactions (no query)."""
    if account.tip_transaction_id is None or account.tip_amount is None:
        return None
    return chain.Link(account.tip_transaction_id, account.tip_amount, account.tip_balance)


def push_chain_warnings(
    session: Session, account: SourceAccount, start: chain.Link | None,
    stored: list[tuple[str, Decimal, Decimal | None]], operation_key: uuid.UUID,
) -> list[ValidationItem]:
    """A warning for the first break a push (``operation_key``, its rows ``stored``) makes in the
    balance chain (never a failure), ``start`` being the account's tip as the push found it.

    Before it warns, it reads where the chain stood (the newest transaction another write stored):
    the tip is kept by this release's writes, and one written meanwhile by an earlier release
    (during a rolling upgrade) would not have moved it. Breaks are rare; the query runs only then.
    """
    found = chain.first_break(stored, start)
    if found is None:
        return []
    row = FeedHealthRepository(session).newest_link_before(account, operation_key)
    stood = None if row is None else _link(*row)
    if stood != start:
        found = chain.first_break(stored, stood)
        if found is None:
            return []
    return [ValidationItem(found.transaction_id, chain.describe(found), f"BalanceChain:{found.kind}")]
