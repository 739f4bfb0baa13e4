from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime

if TYPE_CHECKING:
    from bankfeeds.models.company import Company


class ConnectionStatus(StrEnum):
    """A connection's status, as Codat spells it on the wire (``Connection.status``)."""

    PENDING_AUTH = "PendingAuth"
    LINKED = "Linked"
    UNLINKED = "Unlinked"
    # The platform revoked our access (Xero answered invalid_grant on a token refresh).
    DEAUTHORIZED = "Deauthorized"


class Connection(Base):
    """A company's bank-feeds connection to one accounting platform (``hcws``, ``gbol``)."""

    __tablename__ = "connections"
    # One bank-feeds connection per company.
    __table_args__ = (UniqueConstraint("company_id", name="uq_connections_company_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    platform_key: Mapped[str] = mapped_column(String(4))
    # A ConnectionStatus (stored as its string value).
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_sync: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    linked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The last linking failure as reported in ``connection.failed`` (Codat's DataConnectionError:
    # statusCode, statusText, errorMessage, erroredOnUtc, status); Resolved once the connection links.
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # When the worker last checked the platform's side of the feeds (Xero: daily, for feeds removed there).
    platform_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    company: Mapped[Company] = relationship(back_populates="connections")
