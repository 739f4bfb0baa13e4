from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update

from bankfeeds.kit.repository import Repository
from bankfeeds.models import ApiKey

# Every authenticated request runs it: built once (no construction or cache-key walk per request).
_BY_HASH = select(ApiKey).where(ApiKey.key_hash == bindparam("key_hash"))


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey

    def by_hash(self, key_hash: str) -> ApiKey | None:
        return self.session.scalars(_BY_HASH, {"key_hash": key_hash}).one_or_none()

    def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return self.session.get(ApiKey, key_id)

    def list(self) -> list[ApiKey]:
        return list(self.session.scalars(select(ApiKey).order_by(ApiKey.created_at)))

    def touch(self, key_id: uuid.UUID, now: datetime, unless_since: datetime) -> None:
        """Record a use, unless one was recorded since ``unless_since`` (one UPDATE, no read)."""
        self.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < unless_since))
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
