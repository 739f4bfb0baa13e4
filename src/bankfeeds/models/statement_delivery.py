from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class StatementDeliveryStatus(StrEnum):
    """Where a statement is on its way to the platform (see ``StatementDelivery``)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    REJECTED = "rejected"


class StatementDelivery(Base):
    """A push accepted by the hub on its way to the platform as one statement (Xero).

    Written in the push's own transaction (an outbox row), so an accepted push is always
    delivered or its failure recorded. ``status``:

        queued --(POST /Statements accepted)--> sent --(Xero: DELIVERED)--> delivered
           |                                      '---(Xero: REJECTED)----> rejected
           '--(Xero refused the statement outright)-----------------------> rejected

    ``next_attempt_at`` says when a worker may take it next (retry, poll, or after Xero's
    ``Retry-After``); ``lease_until`` marks it taken by a worker until then.
    """

    __tablename__ = "statement_deliveries"
    __table_args__ = (Index("ix_statement_deliveries_due", "status", "next_attempt_at"),)

    push_operation_key: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("push_operations.key", ondelete="CASCADE"), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    source_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("source_accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    # Sent with every POST of this statement, so a retry after a crash never makes a second one.
    idempotency_key: Mapped[str] = mapped_column(String(128))
    statement_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The last problem met (Xero's error, or why the hub could not reach it), for support.
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
