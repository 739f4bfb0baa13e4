from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import ExactDecimal, UtcDateTime


class SandboxFeed(Base):
    """A bank feed in the sandbox: one source account of an institution mapped to one chart account."""

    __tablename__ = "sandbox_feeds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sandbox_companies.id", ondelete="CASCADE"), index=True
    )
    login_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sandbox_bank_logins.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sandbox_accounts.id", ondelete="CASCADE"))
    # Equal to account_id while the feed is connected, NULL once disconnected: a chart account has
    # at most one connected feed, enforced by the database.
    active_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True, nullable=True)
    source_account_id: Mapped[str] = mapped_column(String(200))
    source_account_name: Mapped[str] = mapped_column(String(500))
    source_account_type: Mapped[str] = mapped_column(String(30))
    source_account_mask: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    feed_start_date: Mapped[date] = mapped_column(Date)
    # connected | disconnected
    status: Mapped[str] = mapped_column(String(20))
    # The next pull asks the IDX API for transactions modified on or after this day.
    watermark: Mapped[date | None] = mapped_column(Date, nullable=True)
    bank_balance: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    bank_balance_as_of: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_pulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    disconnected_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
