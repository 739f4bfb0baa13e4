from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class EventType(StrEnum):
    """The webhook event types, as Codat names them (``eventType`` on the wire, ``events.event_type``).

    Each has one payload model (``webhooks/schemas.py``); ``webhooks.events.record`` takes the
    one that belongs to the type.
    """

    COMPANY_CREATED = "company.created"
    COMPANY_DELETED = "company.deleted"
    CONNECTION_CREATED = "connection.created"
    CONNECTION_CONNECTED = "connection.connected"
    CONNECTION_FAILED = "connection.failed"
    CONNECTION_DISCONNECTED = "connection.disconnected"
    CONNECTION_RECONNECTED = "connection.reconnected"
    CONNECTION_DELETED = "connection.deleted"
    SOURCE_ACCOUNT_CONNECTED = "bankFeeds.sourceAccount.connected"
    SOURCE_ACCOUNT_DISCONNECTED = "bankFeeds.sourceAccount.disconnected"
    WRITE_SUCCESSFUL = "bankTransactions.write.successful"
    WRITE_UNSUCCESSFUL = "bankTransactions.write.unsuccessful"


class Event(Base):
    """The transactional outbox: a webhook event, written in the transaction that caused it.

    ``payload`` is the whole Codat envelope (id, eventType, generatedDate, payload). The
    webhooks worker fans each event out to the consumers subscribed to it.
    """

    __tablename__ = "events"
    # Every push writes one: each index is one more B-tree written per push (one more page in the
    # SQLite WAL). The worker finds the events it has not fanned out yet by the partial index, which
    # holds only those (and loses each as it is marked); pruning and replays go by created_at.
    __table_args__ = (
        Index("ix_events_undispatched", "seq", sqlite_where=text("dispatched_at IS NULL"),
              postgresql_where=text("dispatched_at IS NULL")),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    # An EventType (stored as its string value).
    event_type: Mapped[str] = mapped_column(String(100))
    company_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # Tags of the company when the event happened, for consumers filtering on company tags.
    company_tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Set once the event has been fanned out into webhook messages.
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The correlationId of the request (or job) that caused it, so logs tie the two together.
    correlation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
