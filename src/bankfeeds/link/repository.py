from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update

from bankfeeds.kit.repository import Repository
from bankfeeds.models import Connection, LinkOtp, LinkSessionRecord


class LinkRepository(Repository[LinkSessionRecord]):
    """The link pages' reads, and their server-side sessions (the rows it adds)."""

    model = LinkSessionRecord

    def live_otp(
        self, company_id: uuid.UUID, connection_id: uuid.UUID, otp_hash: str, now: datetime
    ) -> LinkOtp | None:
        """The unexpired OTP with this hash, for this connection of this company."""
        stmt = (
            select(LinkOtp)
            .join(Connection, Connection.id == LinkOtp.connection_id)
            .where(
                LinkOtp.otp_hash == otp_hash,
                LinkOtp.connection_id == connection_id,
                Connection.company_id == company_id,
                LinkOtp.expires_at > now,
            )
            .with_for_update()
        )
        return self.session.scalars(stmt).first()

    def consume(self, otp: LinkOtp) -> None:
        self.session.delete(otp)
        self.session.flush()

    def connection(
        self, company_id: uuid.UUID, connection_id: uuid.UUID, *, for_update: bool = False
    ) -> Connection | None:
        stmt = select(Connection).where(Connection.id == connection_id, Connection.company_id == company_id)
        # refresh: the row read earlier in this request is read again under the lock.
        return self.one(stmt, for_update=for_update, refresh=True)

    # --- server-side sessions ------------------------------------------------------------

    def active_session(self, token_hash: str, connection_id: uuid.UUID, now: datetime) -> LinkSessionRecord | None:
        stmt = select(LinkSessionRecord).where(
            LinkSessionRecord.token_hash == token_hash,
            LinkSessionRecord.connection_id == connection_id,
            LinkSessionRecord.ended_at.is_(None),
            LinkSessionRecord.expires_at > now,
        )
        return self.session.scalars(stmt).one_or_none()

    def end_sessions(self, connection_id: uuid.UUID, now: datetime) -> None:
        """End every live session of the connection, and drop those long over."""
        self.session.execute(
            update(LinkSessionRecord)
            .where(LinkSessionRecord.connection_id == connection_id, LinkSessionRecord.ended_at.is_(None))
            .values(ended_at=now)
        )

    def purge_sessions(self, connection_id: uuid.UUID, now: datetime) -> None:
        self.session.execute(
            delete(LinkSessionRecord).where(
                LinkSessionRecord.connection_id == connection_id, LinkSessionRecord.expires_at <= now
            )
        )
