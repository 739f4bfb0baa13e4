from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class LinkOtp(Base):
    """A one-time password of a linkUrl handed out before linkUrls carried signed ones
    (``connections.service.mint_otp``): stored as an HMAC, valid one hour. Nothing adds rows any
    more; the link pages still redeem the ones left until they expire."""

    __tablename__ = "link_otps"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    otp_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LinkOtpRedemption(Base):
    """A signed one-time password that was redeemed: its keyed hash is the key, so a second
    redemption (a replayed or shared link, two tabs at once) finds it taken. Kept until the
    password would have expired anyway."""

    __tablename__ = "link_otp_redemptions"

    otp_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    redeemed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
