from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class XeroSandboxCall(Base):
    """One API call the sandbox received, with its answer: tests read it to check the limits."""

    __tablename__ = "xero_sandbox_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tenant_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    # minute | day | concurrent | appminute when refused by a limit; fault when a fault answered.
    problem: Mapped[str | None] = mapped_column(String(20), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
