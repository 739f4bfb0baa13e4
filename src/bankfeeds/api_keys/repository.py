from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from bankfeeds.models import ApiKey


class ApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, key: ApiKey) -> ApiKey:
        self.session.add(key)
        self.session.flush()
        return key

    def by_hash(self, key_hash: str) -> ApiKey | None:
        return self.session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash)).one_or_none()

    def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return self.session.get(ApiKey, key_id)

    def list(self) -> list[ApiKey]:
        return list(self.session.scalars(select(ApiKey).order_by(ApiKey.created_at)))

    def active_count(self) -> int:
        return len(list(self.session.scalars(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)))))
