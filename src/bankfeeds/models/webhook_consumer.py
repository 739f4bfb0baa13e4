from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class WebhookConsumer(Base):
    """An endpoint subscribed to event types (Codat's ``WebhookConsumer``).

    Its signing secret (``whsec_...``) is kept Fernet-encrypted with a key derived from
    ``settings.secret_key``: it must stay usable to sign, so it cannot be hashed. After a
    rotation the previous secret still signs (a second ``v1,`` signature) until it expires.
    """

    __tablename__ = "webhook_consumers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(String(2048))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why it is disabled: "manual" (API/CLI) or "failing" (every attempt failed for 5 days).
    disabled_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    # "tagKey:tagValue" entries, OR-matched against the company's tags; None: every company.
    company_tags: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Start of the current run of failed attempts (cleared by any success).
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
