"""Wire shapes of the feed health extensions (camelCase, like the rest of the public API)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bankfeeds.kit.wire import WireModel


class Backlog(WireModel):
    """Transactions accepted by the hub that the platform does not have yet."""

    count: int
    oldest_accepted_at: datetime | None = None
    oldest_age_seconds: int | None = None


class ChainBreak(WireModel):
    kind: str
    previous_transaction_id: str
    transaction_id: str
    expected_balance: Decimal
    balance: Decimal
    message: str


class BalanceChain(WireModel):
    """Each balance should be the previous balance plus the amount, over the newest transactions."""

    checked_transactions: int
    intact: bool
    first_break: ChainBreak | None = None


class LastPush(WireModel):
    push_operation_key: str
    status: str
    requested_date: datetime
    completed_date: datetime | None = None
    transaction_count: int
    error_message: str | None = None


class LastError(WireModel):
    source: str
    date: datetime | None = None
    message: str


class SourceAccountFeedHealth(WireModel):
    source_account_id: str
    account_name: str | None = None
    account_number: str | None = None
    company_id: str
    connection_id: str
    platform: str
    platform_key: str
    status: str
    connection_status: str
    last_pulled_date: datetime | None = None
    last_delivered_date: datetime | None = None
    backlog: Backlog
    days_until_disconnection: int | None = None
    disconnection_date: datetime | None = None
    last_push: LastPush | None = None
    last_error: LastError | None = None
    balance_chain: BalanceChain
    needs_attention: list[str]


class ConnectionFeedHealth(WireModel):
    company_id: str
    connection_id: str
    platform: str
    platform_key: str
    status: str
    source_accounts: list[SourceAccountFeedHealth]


class CompanyFeedHealth(WireModel):
    company_id: str
    company_name: str
    connections: list[ConnectionFeedHealth]
