from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bankfeeds.kit.repository import Repository
from bankfeeds.models import Credential, LoginThrottle


class CredentialRepository(Repository[Credential]):
    model = Credential

    def by_username_hash(self, username_hash: str) -> Credential | None:
        return self.session.scalars(
            select(Credential).where(Credential.username_hash == username_hash)
        ).one_or_none()

    def active(self, credential_id: uuid.UUID) -> Credential | None:
        return self.session.scalars(
            select(Credential).where(Credential.id == credential_id, Credential.revoked_at.is_(None))
        ).one_or_none()

    def count_active(self, connection_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(
            Credential.connection_id == connection_id, Credential.revoked_at.is_(None)
        )
        return int(self.session.scalar(stmt) or 0)

    def revoke_all(self, connection_id: uuid.UUID, now: datetime) -> int:
        result = self.session.execute(
            update(Credential)
            .where(Credential.connection_id == connection_id, Credential.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


class ThrottleRepository:
    """Counters of failed logins, shared by every process through the database."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, keys: list[str]) -> list[LoginThrottle]:
        return list(self.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))))

    def locked(self, key: str, now: datetime) -> LoginThrottle:
        """The row for ``key``, created if missing, locked for this transaction."""
        dialect = self.session.get_bind().dialect.name
        values = {"key": key, "failures": 0, "window_started_at": now, "blocked_until": None}
        if dialect == "postgresql":
            self.session.execute(pg_insert(LoginThrottle).values(**values).on_conflict_do_nothing())
        else:
            self.session.execute(sqlite_insert(LoginThrottle).values(**values).on_conflict_do_nothing())
        stmt = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
        return self.session.scalars(stmt.execution_options(populate_existing=True)).one()

    def forget(self, key: str) -> None:
        self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))

    def purge(self, window_started_before: datetime, now: datetime) -> None:
        """Drop counters whose window is over and that block nobody."""
        self.session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.window_started_at < window_started_before,
                (LoginThrottle.blocked_until.is_(None)) | (LoginThrottle.blocked_until <= now),
            )
        )
