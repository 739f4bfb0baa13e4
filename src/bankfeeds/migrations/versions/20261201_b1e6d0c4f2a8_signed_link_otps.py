"""linkUrl one-time passwords are signed, not stored: only their redemptions are kept

Revision ID: b1e6d0c4f2a8
Revises: f4b2d8a61c09
Create Date: 2026-12-01 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bankfeeds.kit.types

revision: str = "b1e6d0c4f2a8"
down_revision: str | None = "f4b2d8a61c09"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_otp_redemptions",
        sa.Column("otp_hash", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("redeemed_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("otp_hash"),
    )
    with op.batch_alter_table("link_otp_redemptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_otp_redemptions_connection_id"), ["connection_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_otp_redemptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_otp_redemptions_connection_id"))
    op.drop_table("link_otp_redemptions")
