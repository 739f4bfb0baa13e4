"""demo surfaces leave the hub's chain: their tables belong to the demo branch

The QuickBooks sandbox's, the Xero sandbox's and the demo bank's tables were created by this chain
(35d361e05d6c, 7e0c5a1b9d42, b5d8e1f3a6c7, e8f1a2b3c4d5). From here they belong to the ``demo``
branch (a7d3c1e90b5f), applied only in demo mode. A production database loses them here (the
previous release never touches them outside demo mode). A demo database keeps them, rows and all:
in demo mode ``kit/migrate.upgrade`` applies the demo branch first, which adopts them, and this
revision then leaves them alone.

Revision ID: f4b2d8a61c09
Revises: c3a9e5f1b7d2
Create Date: 2026-12-01 02:40:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = "f4b2d8a61c09"
down_revision: str | None = "c3a9e5f1b7d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The demo branch's first revision, which owns these tables once applied.
DEMO_BASE = "a7d3c1e90b5f"

# The tables that were the hub chain's until now, children before parents.
TABLES = (
    "xero_sandbox_statement_lines", "xero_sandbox_statements", "sandbox_bank_transactions",
    "xero_sandbox_tokens", "xero_sandbox_feed_connections", "sandbox_feeds", "demo_transactions",
    "xero_sandbox_memberships", "xero_sandbox_grants", "xero_sandbox_connections",
    "xero_sandbox_auth_codes", "xero_sandbox_accounts", "sandbox_bank_logins", "sandbox_accounts",
    "demo_accounts", "xero_sandbox_users", "xero_sandbox_organisations",
    "xero_sandbox_idempotency_keys", "xero_sandbox_clients", "xero_sandbox_calls", "sandbox_companies",
    "demo_webhook_messages", "demo_webhook_endpoints", "demo_customers", "demo_clock",
)


def upgrade() -> None:
    if _applied(DEMO_BASE):
        return  # demo mode: the demo branch has adopted the tables
    for table in TABLES:
        op.drop_table(table)


def downgrade() -> None:
    if _applied(DEMO_BASE):
        return  # the demo branch still holds them
    # Back before the split, where this chain owned the tables: recreate them, empty.
    context = op.get_context()
    assert context.script is not None
    context.script.get_revision(DEMO_BASE).module.create_tables()


def _applied(revision: str) -> bool:
    """Whether ``revision`` is applied to this database (a current head or one's ancestor)."""
    context = op.get_context()
    assert context.script is not None
    heads = context.get_current_heads()
    return any(r.revision == revision for r in context.script.revision_map.iterate_revisions(heads, "base"))
