from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import ExactDecimal, UtcDateTime


class BankTransaction(Base):
    """A transaction written to a source account, waiting for the accounting platform to pull it."""

    __tablename__ = "bank_transactions"
    __table_args__ = (
        UniqueConstraint("source_account_id", "transaction_id", name="uq_bank_transactions_txn"),
        # The IDX API pages an account's transactions by modifiedDate.
        Index("ix_bank_transactions_account_modified", "source_account_id", "modified_at", "seq"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    source_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("source_accounts.id", ondelete="CASCADE"))
    # The push operation that wrote it (provenance). Deliberately no foreign key and no index: the
    # operation is inserted in the same transaction just before, both go when the company goes
    # (through the source account and the company), nothing looks transactions up by it, and a
    # per-row key check costs about a quarter of a 1000-row insert on PostgreSQL.
    push_operation_key: Mapped[uuid.UUID] = mapped_column(Uuid)
    transaction_id: Mapped[str] = mapped_column(String(200))
    # Local date-time as the bank gave it (Codat ignores any offset).
    date: Mapped[datetime] = mapped_column()
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    counterparty: Mapped[str | None] = mapped_column(Text, nullable=True)
    reference: Mapped[str | None] = mapped_column(Text, nullable=True)
    reconciled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    balance: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    transaction_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    modified_at: Mapped[datetime] = mapped_column(UtcDateTime)
