from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class IdempotencyKey(Base):
    """A POST or PATCH made with an Idempotency-Key, and the response to replay.

    ``state`` moves in_flight -> committed -> completed: ``committed`` is written inside the
    request's own transaction, so it is true exactly when the request's work is durable.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("api_key_id", "key_hash", name="uq_idempotency_keys_key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    # SHA-256 of the client's Idempotency-Key (any length, never stored as sent).
    key_hash: Mapped[str] = mapped_column(String(64))
    # SHA-256 of method, path, query and body: the same key with another request is a 422.
    request_hash: Mapped[str] = mapped_column(String(64))
    # in_flight | committed | completed
    state: Mapped[str] = mapped_column(String(10))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The response headers to replay, as [name, value] pairs (Content-Type among them).
    headers: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
