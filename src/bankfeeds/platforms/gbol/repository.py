"""All SQL of Xero delivery: the statement outbox, a push's transactions, the account's delivered state."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from bankfeeds.models import (
    BankTransaction,
    Connection,
    PushOperation,
    SourceAccount,
    StatementDelivery,
    StatementDeliveryStatus,
)

OPEN = (StatementDeliveryStatus.QUEUED, StatementDeliveryStatus.SENT)


class DeliveryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, delivery: StatementDelivery) -> None:
        self.session.add(delivery)

    def claim_due(self, now: datetime, lease_until: datetime, limit: int, linked: str) -> list[uuid.UUID]:
        """Open deliveries due now whose connection is ``linked``, leased to this worker (SKIP LOCKED)."""
        stmt = (
            select(StatementDelivery)
            .join(Connection, Connection.id == StatementDelivery.connection_id)
            .where(
                StatementDelivery.status.in_(OPEN),
                StatementDelivery.next_attempt_at <= now,
                or_(StatementDelivery.lease_until.is_(None), StatementDelivery.lease_until <= now),
                Connection.status == linked,
            )
            .order_by(StatementDelivery.next_attempt_at, StatementDelivery.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=StatementDelivery)
        )
        claimed = list(self.session.scalars(stmt))
        for delivery in claimed:
            delivery.lease_until = lease_until
            delivery.attempts += 1
        self.session.flush()
        return [d.push_operation_key for d in claimed]

    def get(self, key: uuid.UUID, *, for_update: bool = False) -> StatementDelivery | None:
        stmt = select(StatementDelivery).where(StatementDelivery.push_operation_key == key)
        if for_update:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(stmt).one_or_none()

    def context(self, delivery: StatementDelivery) -> tuple[PushOperation, SourceAccount, Connection]:
        row = self.session.execute(
            select(PushOperation, SourceAccount, Connection)
            .join(SourceAccount, SourceAccount.id == StatementDelivery.source_account_id)
            .join(Connection, Connection.id == StatementDelivery.connection_id)
            .join(PushOperation, PushOperation.key == StatementDelivery.push_operation_key)
            .select_from(StatementDelivery)
            .where(StatementDelivery.push_operation_key == delivery.push_operation_key)
        ).one()
        return row[0], row[1], row[2]

    def lines(self, delivery: StatementDelivery) -> Sequence[BankTransaction]:
        """The push's transactions in the order they were written (the account's modified-date index)."""
        return list(self.session.scalars(
            select(BankTransaction)
            .where(BankTransaction.source_account_id == delivery.source_account_id,
                   BankTransaction.modified_at == delivery.created_at,
                   BankTransaction.push_operation_key == delivery.push_operation_key)
            .order_by(BankTransaction.seq)
        ))

    def forget_lines(self, delivery: StatementDelivery) -> int:
        """Remove a rejected push's transactions: never delivered, their ids are free to send again."""
        result = self.session.execute(
            delete(BankTransaction)
            .where(BankTransaction.source_account_id == delivery.source_account_id,
                   BankTransaction.modified_at == delivery.created_at,
                   BankTransaction.push_operation_key == delivery.push_operation_key)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def newest(self, account_pk: uuid.UUID) -> BankTransaction | None:
        """The account's latest transaction still held (by date, then by the order written)."""
        return self.session.scalars(
            select(BankTransaction).where(BankTransaction.source_account_id == account_pk)
            .order_by(BankTransaction.date.desc(), BankTransaction.seq.desc()).limit(1)
        ).one_or_none()

    def open_count(self, connection_id: uuid.UUID | None = None) -> int:
        stmt = select(func.count()).select_from(StatementDelivery).where(StatementDelivery.status.in_(OPEN))
        if connection_id is not None:
            stmt = stmt.where(StatementDelivery.connection_id == connection_id)
        return int(self.session.scalar(stmt) or 0)

    def next_due(self) -> datetime | None:
        return self.session.scalar(
            select(func.min(StatementDelivery.next_attempt_at)).where(StatementDelivery.status.in_(OPEN)))
