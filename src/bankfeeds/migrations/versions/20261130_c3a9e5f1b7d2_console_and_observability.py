"""console and observability: operators, their sessions and audit log; events' correlation id;
feed pulls history; source accounts found by account number

Revision ID: c3a9e5f1b7d2
Revises: 4c9e2f7a1d30
Create Date: 2026-11-30 23:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bankfeeds.kit.types

revision: str = 'c3a9e5f1b7d2'
down_revision: str | None = '4c9e2f7a1d30'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'operators',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=10), nullable=False),
        sa.Column('created_at', bankfeeds.kit.types.UtcDateTime(), nullable=False),
        sa.Column('disabled_at', bankfeeds.kit.types.UtcDateTime(), nullable=True),
        sa.Column('last_login_at', bankfeeds.kit.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('username'),
    )
    op.create_table(
        'operator_sessions',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('operator_id', sa.Uuid(), nullable=False),
        sa.Column('csrf', sa.String(length=64), nullable=False),
        sa.Column('created_at', bankfeeds.kit.types.UtcDateTime(), nullable=False),
        sa.Column('last_seen_at', bankfeeds.kit.types.UtcDateTime(), nullable=False),
        sa.Column('expires_at', bankfeeds.kit.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_operator_sessions_operator_id', 'operator_sessions', ['operator_id'])
    op.create_index('ix_operator_sessions_expires_at', 'operator_sessions', ['expires_at'])
    op.create_table(
        'operator_audit',
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('at', bankfeeds.kit.types.UtcDateTime(), nullable=False),
        sa.Column('operator_id', sa.Uuid(), nullable=True),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('action', sa.String(length=60), nullable=False),
        sa.Column('target', sa.String(length=200), nullable=True),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('seq'),
    )
    op.create_index('ix_operator_audit_at', 'operator_audit', ['at'])
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('correlation_id', sa.String(length=64), nullable=True))
    op.create_table(
        'feed_pulls',
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('source_account_id', sa.Uuid(), nullable=False),
        sa.Column('pulled_at', bankfeeds.kit.types.UtcDateTime(), nullable=False),
        sa.Column('transactions', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['source_account_id'], ['source_accounts.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('seq'),
    )
    op.create_index('ix_feed_pulls_account_pulled', 'feed_pulls', ['source_account_id', 'pulled_at'])
    op.create_index('ix_feed_pulls_pulled_at', 'feed_pulls', ['pulled_at'])
    op.create_index('ix_source_accounts_account_number', 'source_accounts', ['account_number'])


def downgrade() -> None:
    op.drop_index('ix_source_accounts_account_number', table_name='source_accounts')
    op.drop_index('ix_feed_pulls_pulled_at', table_name='feed_pulls')
    op.drop_index('ix_feed_pulls_account_pulled', table_name='feed_pulls')
    op.drop_table('feed_pulls')
    with op.batch_alter_table('events') as batch:
        batch.drop_column('correlation_id')
    op.drop_index('ix_operator_audit_at', table_name='operator_audit')
    op.drop_table('operator_audit')
    op.drop_index('ix_operator_sessions_expires_at', table_name='operator_sessions')
    op.drop_index('ix_operator_sessions_operator_id', table_name='operator_sessions')
    op.drop_table('operator_sessions')
    op.drop_table('operators')
