"""All SQL of feed health. Every query is bounded or runs on an index.

* QuickBooks backlog: transactions written since the account's last IDX pull
  (``modified_at >= last_pulled_at``): a range on ``ix_bank_transactions_account_modified``.
  A pull reads a window of ``modified_at`` and stamps ``last_pulled_at`` with the time of the
  pull, so anything written later cannot have been in it (one written in the very same instant
  is counted as waiting: support would rather see one too many than miss one).
* Xero backlog: the account's open ``statement_deliveries`` (queued or sent) and their pushes'
  transaction counts.
* The balance chain: the newest ``CHAIN_WINDOW`` transactions, newest first on the same index
  (compared in Python, in exact Decimals).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from bankfeeds.kit.driver_sql import DriverQuery
from bankfeeds.models import (
    BankTransaction,
    Company,
    Connection,
    Event,
    PushOperation,
    PushOperationStatus,
    SourceAccount,
    StatementDelivery,
    StatementDeliveryStatus,
    WebhookMessage,
)
from bankfeeds.models.webhook_message import PENDING_MESSAGE_STATUSES

CHAIN_WINDOW = 500
OPEN_STATEMENTS = (StatementDeliveryStatus.QUEUED, StatementDeliveryStatus.SENT)
PENDING_MESSAGES = PENDING_MESSAGE_STATUSES


@dataclass(frozen=True)
class Backlog:
    count: int
    oldest: datetime | None


# Where the balance chain stood before a write: the account's newest transaction another write
# stored (a backward walk of ix_bank_transactions_account_modified past the write's own rows).
_NEWEST_BEFORE = DriverQuery(
    select(BankTransaction.transaction_id, BankTransaction.amount, BankTransaction.balance)
    .where(BankTransaction.source_account_id == bindparam("account"),
           BankTransaction.push_operation_key != bindparam("operation"))
    .order_by(BankTransaction.modified_at.desc(), BankTransaction.seq.desc()).limit(1)
)


class FeedHealthRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ what the feeds are

    def company(self, company_id: uuid.UUID) -> Company | None:
        return self.session.get(Company, company_id)

    def connections(self, company_id: uuid.UUID) -> list[Connection]:
        return list(self.session.scalars(
            select(Connection).where(Connection.company_id == company_id).order_by(Connection.created_at)))

    def accounts(self, connection_ids: list[uuid.UUID]) -> list[SourceAccount]:
        if not connection_ids:
            return []
        return list(self.session.scalars(
            select(SourceAccount).where(SourceAccount.connection_id.in_(connection_ids))
            .order_by(SourceAccount.created_at, SourceAccount.account_id)))

    # ------------------------------------------------------------------ per account

    def pull_backlog(self, account: SourceAccount) -> Backlog:
        where = [BankTransaction.source_account_id == account.id]
        if account.last_pulled_at is not None:
            where.append(BankTransaction.modified_at >= account.last_pulled_at)
        count, oldest = self.session.execute(
            select(func.count(), func.min(BankTransaction.modified_at)).where(*where)).one()
        return Backlog(int(count or 0), oldest)

    def delivery_backlog(self, account: SourceAccount) -> Backlog:
        count, oldest = self.session.execute(
            select(func.coalesce(func.sum(PushOperation.transaction_count), 0), func.min(StatementDelivery.created_at))
            .join(PushOperation, PushOperation.key == StatementDelivery.push_operation_key)
            .where(StatementDelivery.connection_id == account.connection_id,
                   StatementDelivery.source_account_id == account.id,
                   StatementDelivery.status.in_(OPEN_STATEMENTS))).one()
        return Backlog(int(count or 0), oldest)

    def last_delivered_at(self, account: SourceAccount) -> datetime | None:
        return self.session.scalar(
            select(func.max(StatementDelivery.delivered_at))
            .where(StatementDelivery.connection_id == account.connection_id,
                   StatementDelivery.source_account_id == account.id))

    def last_rejected_statement(self, account: SourceAccount) -> StatementDelivery | None:
        return self.session.scalars(
            select(StatementDelivery)
            .where(StatementDelivery.connection_id == account.connection_id,
                   StatementDelivery.source_account_id == account.id,
                   StatementDelivery.status == StatementDeliveryStatus.REJECTED)
            .order_by(StatementDelivery.created_at.desc()).limit(1)).first()

    def last_push(self, company_id: uuid.UUID, account: SourceAccount, *, failed: bool = False) -> PushOperation | None:
        stmt = (select(PushOperation)
                .where(PushOperation.company_id == company_id, PushOperation.connection_id == account.connection_id,
                       PushOperation.source_account_id == account.account_id))
        if failed:
            stmt = stmt.where(PushOperation.status.in_((PushOperationStatus.FAILED, PushOperationStatus.TIMED_OUT)))
        return self.session.scalars(stmt.order_by(PushOperation.requested_at.desc()).limit(1)).first()

    def chain_rows(self, account: SourceAccount, window: int = CHAIN_WINDOW) -> list[Row[Any]]:
        """The newest ``window`` transactions, oldest first: a backward range on the index, then a sort
        of at most ``window`` rows. The chain itself is compared in Python, in exact Decimals (SQLite
        keeps amounts as text, so arithmetic in SQL would not be exact on both databases)."""
        newest = (select(BankTransaction.seq, BankTransaction.transaction_id, BankTransaction.amount,
                         BankTransaction.balance, BankTransaction.modified_at)
                  .where(BankTransaction.source_account_id == account.id)
                  .order_by(BankTransaction.modified_at.desc(), BankTransaction.seq.desc())
                  .limit(window).subquery())
        return list(self.session.execute(
            select(newest.c.transaction_id, newest.c.amount, newest.c.balance)
            .order_by(newest.c.modified_at, newest.c.seq)))

    def newest_link_before(self, account: SourceAccount, operation_key: uuid.UUID) -> tuple[Any, ...] | None:
        """The account's newest transaction not stored by ``operation_key``: (id, amount, balance), or None."""
        return _NEWEST_BEFORE.first(self.session, {"account": account.id, "operation": operation_key})

    # ------------------------------------------------------------------ across every feed (metrics, console)

    def backlog_by_platform(self, now: datetime) -> dict[str, tuple[int, datetime | None]]:
        """Transactions not yet pulled (QuickBooks) or delivered (Xero), and the oldest, per platform."""
        out: dict[str, tuple[int, datetime | None]] = {}
        pulled = or_(SourceAccount.last_pulled_at.is_(None),
                     BankTransaction.modified_at >= SourceAccount.last_pulled_at)
        count, oldest = self.session.execute(
            select(func.count(BankTransaction.seq), func.min(BankTransaction.modified_at))
            .select_from(SourceAccount)
            .join(Connection, Connection.id == SourceAccount.connection_id)
            .join(BankTransaction, and_(BankTransaction.source_account_id == SourceAccount.id, pulled))
            .where(Connection.platform_key == "hcws")).one()
        out["hcws"] = (int(count or 0), oldest)
        count, oldest = self.session.execute(
            select(func.coalesce(func.sum(PushOperation.transaction_count), 0), func.min(StatementDelivery.created_at))
            .join(PushOperation, PushOperation.key == StatementDelivery.push_operation_key)
            .where(StatementDelivery.status.in_(OPEN_STATEMENTS))).one()
        out["gbol"] = (int(count or 0), oldest)
        return out

    def webhook_queue_depth(self) -> int:
        return int(self.session.scalar(
            select(func.count()).select_from(WebhookMessage).where(WebhookMessage.status.in_(PENDING_MESSAGES))) or 0)

    def oldest_due(self, now: datetime) -> datetime | None:
        """When the oldest job that is due now became due (webhooks, statements, the outbox)."""
        candidates = [
            self.session.scalar(select(func.min(WebhookMessage.next_attempt_at))
                                .where(WebhookMessage.status.in_(PENDING_MESSAGES),
                                       WebhookMessage.next_attempt_at <= now)),
            self.session.scalar(select(func.min(StatementDelivery.next_attempt_at))
                                .where(StatementDelivery.status.in_(OPEN_STATEMENTS),
                                       StatementDelivery.next_attempt_at <= now)),
            self.session.scalar(select(func.min(Event.created_at)).where(Event.dispatched_at.is_(None))),
        ]
        found = [c for c in candidates if c is not None]
        return min(found) if found else None

    def feeds_by_status(self) -> list[tuple[str, str, int]]:
        rows = self.session.execute(
            select(Connection.platform_key, SourceAccount.status, func.count())
            .join(Connection, Connection.id == SourceAccount.connection_id)
            .group_by(Connection.platform_key, SourceAccount.status))
        return [(str(p), str(s), int(n)) for p, s, n in rows]


def as_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)
