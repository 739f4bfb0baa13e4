from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class DemoWebhookEndpoint(Base):
    """The demo bank's registration as a webhook consumer of the hub, with its signing secret (encrypted)."""

    __tablename__ = "demo_webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    consumer_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    signing_secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
