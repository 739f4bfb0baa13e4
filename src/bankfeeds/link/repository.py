from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bankfeeds.models import Connection, LinkOtp


class LinkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

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
        if for_update:
            # populate_existing: the row read earlier in this request is refreshed under the lock.
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(stmt).one_or_none()
