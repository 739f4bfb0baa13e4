from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class XeroAuthorization(Base):
    """One "Connect to Xero" press: the OAuth ``state`` (as a keyed hash) and the PKCE verifier
    (encrypted), kept server-side until the callback uses them once (the row is then deleted)."""

    __tablename__ = "xero_authorizations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_verifier_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
