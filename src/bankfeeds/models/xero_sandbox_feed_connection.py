from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class XeroSandboxFeedConnection(Base):
    """A bank feed: an app's ``accountToken`` fed into one bank account of one organisation.

    ``live_token`` and ``live_account_id`` equal ``account_token`` and ``account_id`` while the
    feed exists and are NULL once it is removed: the database holds one live feed per token per
    app, and one per bank account.
    """

    __tablename__ = "xero_sandbox_feed_connections"
    __table_args__ = (UniqueConstraint("client_id", "live_token"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(ForeignKey("xero_sandbox_clients.client_id", ondelete="CASCADE"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("xero_sandbox_organisations.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("xero_sandbox_accounts.id", ondelete="CASCADE"))
    account_token: Mapped[str] = mapped_column(String(50))
    live_token: Mapped[str | None] = mapped_column(String(50), nullable=True)
    live_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True, nullable=True)
    account_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    account_name: Mapped[str | None] = mapped_column(String(30), nullable=True)
    account_type: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    # PENDING (until first read) | ACTIVE | DELETED
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
