from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class WebhookMessageStatus(StrEnum):
    """Where a message stands (the wire values of Codat's webhook message statuses)."""

    SENDING = "Sending"  # never attempted
    ATTEMPTING = "Attempting"  # failed, a retry scheduled
    SUCCESS = "Success"
    FAILURE = "Failure"  # gave up


# Not yet settled: due now or later.
PENDING_MESSAGE_STATUSES = (WebhookMessageStatus.SENDING, WebhookMessageStatus.ATTEMPTING)


class WebhookMessage(Base):
    """One event for one consumer: what the worker delivers, retries and records.

    ``id`` is the ``webhook-id`` header (``msg_...``), the same on every attempt. A worker
    claims a due message by setting ``locked_by``/``locked_until`` (a lease it renews while it
    delivers); a lease that runs out, because its worker died, makes the message due again.
    """

    __tablename__ = "webhook_messages"
    __table_args__ = (
        UniqueConstraint("event_id", "consumer_id", name="uq_webhook_messages_event_consumer"),
        Index("ix_webhook_messages_consumer_created", "consumer_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    consumer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_consumers.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("events.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(100))
    # a WebhookMessageStatus
    status: Mapped[str] = mapped_column(String(12), index=True)
    # Failed attempts in the current schedule (a resend or a recovery starts a new one).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When it is due; None once it succeeded or failed for good.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    locked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # What queued the current schedule: event | resend | recover | replay
    trigger: Mapped[str] = mapped_column(String(12), default="event")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
