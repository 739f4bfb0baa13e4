from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import ExactDecimal, UtcDateTime


class DemoAccount(Base):
    """A bank account of a demo bank customer; ``source_account_id`` is its id on the hub."""

    __tablename__ = "demo_accounts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("demo_customers.id", ondelete="CASCADE"), index=True
    )
    source_account_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # checking | savings | creditCard (Codat's SourceAccountV2 accountType)
    account_type: Mapped[str] = mapped_column(String(20))
    account_number: Mapped[str] = mapped_column(String(40))
    routing_number: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[Decimal] = mapped_column(ExactDecimal)
    # Created as a source account on the customer's current hub connection.
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    # Source account status as last told by the hub (pending, connected, disconnected...).
    feed_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
