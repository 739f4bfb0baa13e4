from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update

from bankfeeds.kit.driver_sql import DriverQuery
from bankfeeds.kit.repository import Repository
from bankfeeds.models import ApiKey


@dataclass(frozen=True)
class KeyRecord:
    """What authenticating a request reads of its key."""

    id: uuid.UUID
    name: str
    key_hash: str
    last_used_at: datetime | None
    revoked_at: datetime | None


# Every authenticated request runs it: compiled once, run on the driver (no ORM object per request).
# A KeyRecord's columns, in its order.
KEY_COLUMNS = (ApiKey.id, ApiKey.name, ApiKey.key_hash, ApiKey.last_used_at, ApiKey.revoked_at)
_BY_HASH = DriverQuery(select(*KEY_COLUMNS).where(ApiKey.key_hash == bindparam("key_hash")))


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey

    def by_hash(self, key_hash: str) -> KeyRecord | None:
        row = _BY_HASH.first(self.session, {"key_hash": key_hash})
        return None if row is None else KeyRecord(*row)

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
