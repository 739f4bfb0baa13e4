from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import ExactDecimal, UtcDateTime


class SourceAccountStatus(StrEnum):
    """A source account's feed status, as Codat spells it on the wire (``SourceAccount.status``)."""

    PENDING = "pending"
    CONNECTED = "connected"
    CONNECTING = "connecting"
    DISCONNECTED = "disconnected"
    # In Codat's enum, so PATCH bodies may carry it (and are refused: only "disconnected" may be
    # asked for); the hub itself never sets it.
    UNKNOWN = "unknown"


class SourceAccount(Base):
    """A bank account the bank feeds into the accounting platform.

    ``account_id`` is the client's own id (unique per connection); ``id`` is ours.
    """

    __tablename__ = "source_accounts"
    __table_args__ = (
        UniqueConstraint("connection_id", "account_id", name="uq_source_accounts_account"),
        # The disconnection task looks for connected accounts nobody pulled for a while.
        Index("ix_source_accounts_status", "status"),
        # Support finds a customer's feed by its account number (console search).
        Index("ix_source_accounts_account_number", "account_number"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(200))
    # 1: Codat's v1 SourceAccount shape, 2: SourceAccountV2. Reads answer in the shape it was made in.
    shape_version: Mapped[int] = mapped_column(Integer)
    account_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    account_type: Mapped[str | None] = mapped_column(String(50), nullable=True)
    account_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sort_code: Mapped[str | None] = mapped_column(String(50), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    balance: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    routing_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    account_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # A SourceAccountStatus (stored as its string value).
    status: Mapped[str] = mapped_column(String(20))
    feed_start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Mapping to the accounting platform's account (Xero via the API, QuickBooks via its own UI).
    target_account_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    target_account_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    modified_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # When the account last became connected (the disconnection clock starts here if never pulled).
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # When the accounting platform last pulled this account over the IDX API.
    last_pulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Xero: the feed connection (Xero's id) carrying this account, the accountToken it was created
    # with (our id for the account, unique within the bank), and why Xero refused the last mapping.
    feed_connection_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    account_token: Mapped[str | None] = mapped_column(String(50), nullable=True)
    feed_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Date of the newest transaction written to it: nothing older may follow (QuickBooks' rule).
    newest_transaction_date: Mapped[datetime | None] = mapped_column(nullable=True)
    # The newest transaction stored (the last one the latest write stored): where the balance chain
    # stands, which the next push's first balance must follow (feed health). None before any.
    tip_transaction_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tip_amount: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    tip_balance: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
