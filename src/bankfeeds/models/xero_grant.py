from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class XeroGrant(Base):
    """What a Xero (``gbol``) connection holds once the SMB consented: the organisation (tenant) and
    the OAuth tokens, both encrypted (``kit/crypto.py``). One per connection.

    ``tenant_id`` is None while the SMB is still choosing among several organisations. Access
    tokens live 30 minutes and refresh tokens rotate on every refresh; ``platforms/gbol/tokens.py``
    refreshes under this row's lock so two workers never spend the same refresh token."""

    __tablename__ = "xero_grants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), unique=True
    )
    tenant_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    tenant_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Xero's id of the app-to-organisation connection (GET /connections), for DELETE /connections/{id}.
    xero_connection_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    scope: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
