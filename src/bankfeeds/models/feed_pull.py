from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import UtcDateTime


class FeedPull(Base):
    """One transactions pull of a source account by the accounting platform (QuickBooks' IDX call).

    The history behind "when did QuickBooks last pull, and how much": the console charts pulls
    and transactions delivered per day from it.
    """

    __tablename__ = "feed_pulls"
    __table_args__ = (Index("ix_feed_pulls_account_pulled", "source_account_id", "pulled_at"),)

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    source_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("source_accounts.id", ondelete="CASCADE"))
    pulled_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    transactions: Mapped[int] = mapped_column(Integer, default=0)
