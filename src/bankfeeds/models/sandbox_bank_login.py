from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class SandboxBankLogin(Base):
    """The credentials a sandbox company signed in to an institution with.

    QuickBooks presents them on every pull, so they are kept encrypted (never hashed, never plain).
    """

    __tablename__ = "sandbox_bank_logins"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sandbox_companies.id", ondelete="CASCADE"), index=True
    )
    institution_slug: Mapped[str] = mapped_column(String(100))
    institution_name: Mapped[str] = mapped_column(String(200))
    username_encrypted: Mapped[str] = mapped_column(Text)
    password_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
