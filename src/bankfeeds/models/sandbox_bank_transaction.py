from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import ExactDecimal, UtcDateTime


class SandboxBankTransaction(Base):
    """A transaction a sandbox feed downloaded, waiting in the account's "For review" list.

    ``transaction_id`` is the institution's id: the same one is never downloaded twice into an account.
    """

    __tablename__ = "sandbox_bank_transactions"
    __table_args__ = (
        UniqueConstraint("account_id", "transaction_id", name="uq_sandbox_bank_transactions_txn"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    feed_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sandbox_feeds.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sandbox_accounts.id", ondelete="CASCADE"))
    transaction_id: Mapped[str] = mapped_column(String(200))
    transaction_date: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(1000))
    payee: Mapped[str | None] = mapped_column(String(500), nullable=True)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    currency: Mapped[str] = mapped_column(String(3))
    # for_review (QuickBooks' "For review" tab)
    status: Mapped[str] = mapped_column(String(20))
    downloaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
