from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class DemoCustomer(Base):
    """A business customer of the demo bank, and what the bank knows of its bank feed."""

    __tablename__ = "demo_customers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The hub's company and connection for this customer (ids returned by the public API).
    hub_company_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    hub_connection_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # The accounting platform of that connection: ``hcws`` (QuickBooks) or ``gbol`` (Xero).
    hub_platform: Mapped[str | None] = mapped_column(String(4), nullable=True)
    # The connection status as last told by a webhook (PendingAuth, Linked, Unlinked, ...).
    feed_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    # generatedDate of the event that set feed_status: older events never overwrite it.
    feed_status_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The event type that set it (orders events of the same instant).
    feed_status_event: Mapped[str | None] = mapped_column(String(100), nullable=True)
    feed_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
