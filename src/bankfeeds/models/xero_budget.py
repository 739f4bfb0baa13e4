from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class XeroBudget(Base):
    """One rate-limit budget Xero enforces: a tenant's (``tenant:<id>``) or the app's statements budget.

    Its row is the lock every worker process takes before it counts the budget's recent calls
    (``xero_calls``), so processes share one view of what is left. ``blocked_until`` holds off
    every caller after Xero answered 429 with ``Retry-After``.
    """

    __tablename__ = "xero_budgets"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
