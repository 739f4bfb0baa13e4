"""xero grants, authorizations and feed columns on source accounts

Revision ID: 9a3f6b2c8e15
Revises: 35d361e05d6c
Create Date: 2026-11-30 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bankfeeds.kit.types

revision: str = "9a3f6b2c8e15"
down_revision: str | None = "35d361e05d6c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "xero_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("tenant_name", sa.String(length=500), nullable=True),
        sa.Column("xero_connection_id", sa.String(length=64), nullable=True),
        sa.Column("access_token_encrypted", sa.Text(), nullable=False),
        sa.Column("refresh_token_encrypted", sa.Text(), nullable=False),
        sa.Column("access_expires_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connection_id"),
    )
    with op.batch_alter_table("xero_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_xero_grants_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "xero_authorizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("code_verifier_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("state_hash"),
    )
    with op.batch_alter_table("xero_authorizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_xero_authorizations_connection_id"), ["connection_id"], unique=False)

    with op.batch_alter_table("source_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed_connection_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("account_token", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("feed_error", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_accounts", schema=None) as batch_op:
        batch_op.drop_column("feed_error")
        batch_op.drop_column("account_token")
        batch_op.drop_column("feed_connection_id")
    with op.batch_alter_table("xero_authorizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_xero_authorizations_connection_id"))
    op.drop_table("xero_authorizations")
    with op.batch_alter_table("xero_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_xero_grants_tenant_id"))
    op.drop_table("xero_grants")
