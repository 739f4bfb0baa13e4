"""link sessions held server-side (Cancel and Revoke end them)

Revision ID: 4c9e2f7a1d30
Revises: e8f1a2b3c4d5
Create Date: 2026-11-30 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bankfeeds.kit.types

revision: str = "4c9e2f7a1d30"
down_revision: str | None = "e8f1a2b3c4d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("link_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_sessions_connection_id"), ["connection_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_sessions_connection_id"))
    op.drop_table("link_sessions")
