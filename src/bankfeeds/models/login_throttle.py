from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class LoginThrottle(Base):
    """Failed logins counted per source IP or per username, so every process sees the same count.

    ``key`` is a scope and a keyed hash (``idx-user:<hmac>``, ``idx-ip:<hmac>``, ``link-ip:<hmac>``):
    neither usernames nor addresses are stored in clear.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
