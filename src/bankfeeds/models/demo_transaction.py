from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import ExactDecimal, UtcDateTime


class DemoTransaction(Base):
    """A booked transaction of a demo bank account; ``seq`` orders an account's history."""

    __tablename__ = "demo_transactions"
    __table_args__ = (UniqueConstraint("account_id", "seq", name="uq_demo_transactions_seq"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("demo_accounts.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    booked_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(500))
    # Signed: positive is money in.
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    # The account's balance after this transaction.
    balance: Mapped[Decimal] = mapped_column(ExactDecimal)
    # Sent to the hub with create-bank-transactions (and the push operation that carried it).
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    push_operation_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
