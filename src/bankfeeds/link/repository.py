from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bankfeeds.kit.repository import Repository
from bankfeeds.models import Connection, LinkOtp, LinkOtpRedemption, LinkSessionRecord


class LinkRepository(Repository[LinkSessionRecord]):
    """The link pages' reads, and their server-side sessions (the rows it adds)."""

    model = LinkSessionRecord

    def redeem_otp(self, connection_id: uuid.UUID, key: str, now: datetime, expires_at: datetime) -> bool:
        """Record a signed OTP's redemption; False when it was redeemed before (the primary key
        decides, so of two concurrent redemptions one wins). Drops the connection's redemptions
        and pre-signing OTPs that have expired."""
        self.session.execute(delete(LinkOtpRedemption).where(
            LinkOtpRedemption.connection_id == connection_id, LinkOtpRedemption.expires_at <= now))
        self.session.execute(delete(LinkOtp).where(LinkOtp.connection_id == connection_id, LinkOtp.expires_at <= now))
        values = {"otp_hash": key, "connection_id": connection_id, "redeemed_at": now, "expires_at": expires_at}
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(LinkOtpRedemption).values(**values).on_conflict_do_nothing()
        return self.session.scalar(stmt.returning(LinkOtpRedemption.otp_hash)) is not None

    def live_otp(
        self, company_id: uuid.UUID, connection_id: uuid.UUID, otp_hash: str, now: datetime
    ) -> LinkOtp | None:
        """The unexpired OTP with this hash, for this connection of this company (one minted
        before linkUrls carried signed OTPs)."""
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
