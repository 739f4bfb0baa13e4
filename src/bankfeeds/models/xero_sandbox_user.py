from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class XeroSandboxUser(Base):
    """A person who signs in to the Xero sandbox (a demo user)."""

    __tablename__ = "xero_sandbox_users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # scrypt$<salt hex>$<hash hex>: never the password itself.
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
