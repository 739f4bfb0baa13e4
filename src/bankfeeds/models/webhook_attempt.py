from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class WebhookAttempt(Base):
    """One HTTP attempt at delivering a message: when, the status, how long, what came back."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    message_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True
    )
    consumer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_consumers.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    url: Mapped[str] = mapped_column(String(2048))
    # None when no HTTP response came back (timeout, refused connection...).
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    success: Mapped[bool] = mapped_column(Boolean)
    latency_ms: Mapped[int] = mapped_column(Integer)
    # The first bytes of the response body (at most 1 KiB), or why there was none.
    response: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    trigger: Mapped[str] = mapped_column(String(12), default="event")
    worker: Mapped[str] = mapped_column(String(100))
