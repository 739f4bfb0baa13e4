from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class SandboxAccount(Base):
    """An account of a sandbox company's chart of accounts (Bank, Credit Card, Income, Expenses...)."""

    __tablename__ = "sandbox_accounts"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_sandbox_accounts_name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sandbox_companies.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # QuickBooks' account type: Bank, Credit Card, Income, Expenses, ...
    account_type: Mapped[str] = mapped_column(String(60))
    detail_type: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
