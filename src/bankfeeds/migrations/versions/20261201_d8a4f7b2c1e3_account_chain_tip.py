"""account chain tip: the newest stored transaction kept on its source account

A push checks its first balance against the account's newest stored transaction (feed health's
balance chain). It read that row with a query on every push; the account now carries it
(``tip_transaction_id``, ``tip_amount``, ``tip_balance``), set by every write that stores
transactions, in the UPDATE that already sets the account's balance and newest date. Accounts with
transactions get theirs here, from the newest row by the order the query used (modified_at, then
seq), through ``ix_bank_transactions_account_modified``. The previous release, still writing during
a rolling upgrade, does not move the tip: a push that finds a break against it reads where the chain
stood before it warns (``feed_health.push_chain_warnings``), so a stale tip never raises a false warning.

Revision ID: d8a4f7b2c1e3
Revises: c6f0a3d9e2b7
Create Date: 2026-12-01 17:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bankfeeds.kit.types

revision: str = "d8a4f7b2c1e3"
down_revision: str | None = "c6f0a3d9e2b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _newest(column: str) -> str:
    return (f"(SELECT t.{column} FROM bank_transactions t WHERE t.source_account_id = source_accounts.id "
            "ORDER BY t.modified_at DESC, t.seq DESC LIMIT 1)")


def upgrade() -> None:
    with op.batch_alter_table("source_accounts") as batch_op:
        batch_op.add_column(sa.Column("tip_transaction_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("tip_amount", bankfeeds.kit.types.ExactDecimal(), nullable=True))
        batch_op.add_column(sa.Column("tip_balance", bankfeeds.kit.types.ExactDecimal(), nullable=True))
    op.execute(
        f"UPDATE source_accounts SET tip_transaction_id = {_newest('transaction_id')}, "
        f"tip_amount = {_newest('amount')}, tip_balance = {_newest('balance')} "
        "WHERE EXISTS (SELECT 1 FROM bank_transactions t WHERE t.source_account_id = source_accounts.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("source_accounts") as batch_op:
        batch_op.drop_column("tip_balance")
        batch_op.drop_column("tip_amount")
        batch_op.drop_column("tip_transaction_id")
