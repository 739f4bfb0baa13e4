from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class XeroCall(Base):
    """One call made (or in flight) against a Xero budget; kept a day for the daily limit."""

    __tablename__ = "xero_calls"
    __table_args__ = (Index("ix_xero_calls_budget_started", "budget_key", "started_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    budget_key: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Set when the call returns; a call whose process died counts as in flight until its lease ends.
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lease_until: Mapped[datetime] = mapped_column(UtcDateTime)
