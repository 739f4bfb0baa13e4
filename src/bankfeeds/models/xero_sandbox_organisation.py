from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class XeroSandboxOrganisation(Base):
    """A Xero organisation (a tenant): its id is the ``Xero-Tenant-Id``."""

    __tablename__ = "xero_sandbox_organisations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    base_currency: Mapped[str] = mapped_column(String(3))
    country_code: Mapped[str] = mapped_column(String(2))
    organisation_type: Mapped[str] = mapped_column(String(30))
    short_code: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
