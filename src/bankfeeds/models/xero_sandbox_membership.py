from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base


class XeroSandboxMembership(Base):
    """A user's access to an organisation."""

    __tablename__ = "xero_sandbox_memberships"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("xero_sandbox_users.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("xero_sandbox_organisations.id", ondelete="CASCADE"), primary_key=True
    )
