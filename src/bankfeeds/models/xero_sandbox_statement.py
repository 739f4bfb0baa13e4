from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import ExactDecimal, UtcDateTime


class XeroSandboxStatement(Base):
    """A statement posted to a feed: PENDING, then DELIVERED or REJECTED when processed."""

    __tablename__ = "xero_sandbox_statements"
    __table_args__ = (Index("ix_xero_sandbox_statements_feed_fingerprint", "feed_connection_id", "fingerprint"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(ForeignKey("xero_sandbox_clients.client_id", ondelete="CASCADE"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("xero_sandbox_organisations.id", ondelete="CASCADE"), index=True
    )
    feed_connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("xero_sandbox_feed_connections.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(10), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    start_amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    start_indicator: Mapped[str] = mapped_column(String(6))
    end_amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    end_indicator: Mapped[str] = mapped_column(String(6))
    line_count: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the statement as sent: the same statement sent again is a duplicate.
    fingerprint: Mapped[str] = mapped_column(String(64))
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
