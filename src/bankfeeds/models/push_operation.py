from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class PushOperationStatus(StrEnum):
    """A push operation's status, as Codat spells it on the wire (``PushOperation.status``)."""

    PENDING = "Pending"
    FAILED = "Failed"
    SUCCESS = "Success"
    TIMED_OUT = "TimedOut"


# The rows ``ix_push_operations_timing_out`` holds; a query must say it in these words (a literal,
# not a bound parameter) for either database to use the partial index.
TIMING_OUT = "status = 'Pending' AND timeout_at IS NOT NULL"


class PushOperation(Base):
    """One create-bank-transactions request and its outcome."""

    __tablename__ = "push_operations"
    __table_args__ = (
        Index("ix_push_operations_company_requested", "company_id", "requested_at"),
        # The operations that can time out: Pending with a timeout. Only they are in the index (a
        # QuickBooks push completes in its request and is never written into it).
        Index("ix_push_operations_timing_out", "timeout_at", sqlite_where=text(TIMING_OUT),
              postgresql_where=text(TIMING_OUT)),
    )

    key: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    source_account_id: Mapped[str] = mapped_column(String(200))
    data_type: Mapped[str] = mapped_column(String(50), default="bankTransactions")
    # A PushOperationStatus (stored as its string value).
    status: Mapped[str] = mapped_column(String(10))
    status_code: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    timeout_in_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timeout_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # {"errors": [...], "warnings": [...]} in Codat's validationItem shape.
    validation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    changes: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    transaction_count: Mapped[int] = mapped_column(Integer, default=0)
