"""demo branch: the tables of the demo surfaces, applied only in demo mode

The QuickBooks sandbox (``sandbox_*``), the Xero sandbox (``xero_sandbox_*``) and the demo bank
(``demo_*``) keep their tables here, on a branch of their own (label ``demo``) that
``kit/migrate.upgrade`` applies only in demo mode, so a production database never has them.
Until f4b2d8a61c09 the hub's chain created them; this revision depends on that chain's last
revision before the split and adopts the tables (with their rows) where they exist, or creates them.

Revision ID: a7d3c1e90b5f
Revises:
Create Date: 2026-12-01 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bankfeeds.kit.types


revision: str = "a7d3c1e90b5f"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("demo",)
depends_on: str | Sequence[str] | None = "c3a9e5f1b7d2"

# The hub's revision that took these tables out of its chain.
HUB_SPLIT = "f4b2d8a61c09"

# Every table of this revision, children before parents.
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
    existing = set(sa.inspect(op.get_bind()).get_table_names()) & set(TABLES)
    if existing == set(TABLES):
        return  # a database from before the split: the tables (and the demo's data) are adopted as they are
    if existing:
        raise RuntimeError(f"the demo tables are only partly there ({', '.join(sorted(existing))}): "
                           "drop them or restore the database, then migrate again")
    create_tables()


def downgrade() -> None:
    if _applied(HUB_SPLIT):
        # Without the hub's chain owning them any more, the tables go with the branch.
        for table in TABLES:
            op.drop_table(table)


def _applied(revision: str) -> bool:
    """Whether ``revision`` is applied to this database (a current head or one's ancestor)."""
    context = op.get_context()
    assert context.script is not None
    heads = context.get_current_heads()
    return any(r.revision == revision for r in context.script.revision_map.iterate_revisions(heads, "base"))


def create_tables() -> None:
    """The demo tables as they stood at c3a9e5f1b7d2 (also used by f4b2d8a61c09's downgrade)."""
    op.create_table("demo_clock",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("offset_seconds", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_table("demo_customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("hub_company_id", sa.Uuid(), nullable=True),
        sa.Column("hub_connection_id", sa.Uuid(), nullable=True),
        sa.Column("hub_platform", sa.String(length=4), nullable=True),
        sa.Column("feed_status", sa.String(length=30), nullable=True),
        sa.Column("feed_status_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("feed_status_event", sa.String(length=100), nullable=True),
        sa.Column("feed_message", sa.Text(), nullable=True),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name")
    )
    op.create_table("demo_webhook_endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consumer_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("signing_secret_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url")
    )
    op.create_table("demo_webhook_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("received_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id")
    )
    op.create_index(op.f("ix_demo_webhook_messages_received_at"), "demo_webhook_messages", ["received_at"], unique=False)
    op.create_table("sandbox_companies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name")
    )
    op.create_table("xero_sandbox_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("tenant_id", sa.String(length=100), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("problem", sa.String(length=20), nullable=True),
        sa.Column("at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_xero_sandbox_calls_at"), "xero_sandbox_calls", ["at"], unique=False)
    op.create_index(op.f("ix_xero_sandbox_calls_tenant_id"), "xero_sandbox_calls", ["tenant_id"], unique=False)
    op.create_table("xero_sandbox_clients",
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id")
    )
    op.create_table("xero_sandbox_idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "tenant_id", "key")
    )
    op.create_table("xero_sandbox_organisations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("organisation_type", sa.String(length=30), nullable=False),
        sa.Column("short_code", sa.String(length=20), nullable=False),
        sa.Column("timezone", sa.String(length=60), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name")
    )
    op.create_table("xero_sandbox_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email")
    )
    op.create_table("demo_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("source_account_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("account_type", sa.String(length=20), nullable=False),
        sa.Column("account_number", sa.String(length=40), nullable=False),
        sa.Column("routing_number", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", bankfeeds.kit.types.ExactDecimal(), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("feed_status", sa.String(length=20), nullable=True),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["demo_customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_account_id")
    )
    op.create_index(op.f("ix_demo_accounts_customer_id"), "demo_accounts", ["customer_id"], unique=False)
    op.create_table("sandbox_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("account_type", sa.String(length=60), nullable=False),
        sa.Column("detail_type", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["sandbox_companies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "name", name="uq_sandbox_accounts_name")
    )
    op.create_table("sandbox_bank_logins",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("institution_slug", sa.String(length=100), nullable=False),
        sa.Column("institution_name", sa.String(length=200), nullable=False),
        sa.Column("username_encrypted", sa.Text(), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["sandbox_companies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_sandbox_bank_logins_company_id"), "sandbox_bank_logins", ["company_id"], unique=False)
    op.create_table("xero_sandbox_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=True),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("tax_type", sa.String(length=30), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("bank_account_number", sa.String(length=40), nullable=True),
        sa.Column("bank_account_type", sa.String(length=20), nullable=True),
        sa.Column("currency_code", sa.String(length=3), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["xero_sandbox_organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_xero_sandbox_accounts_organisation_id"), "xero_sandbox_accounts", ["organisation_id"], unique=False)
    op.create_table("xero_sandbox_auth_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("scope", sa.String(length=1000), nullable=False),
        sa.Column("code_challenge", sa.String(length=200), nullable=False),
        sa.Column("auth_event_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("grant_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["xero_sandbox_clients.client_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["xero_sandbox_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash")
    )
    op.create_table("xero_sandbox_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("auth_event_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["xero_sandbox_clients.client_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organisation_id"], ["xero_sandbox_organisations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["xero_sandbox_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "user_id", "organisation_id")
    )
    op.create_table("xero_sandbox_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=1000), nullable=False),
        sa.Column("auth_event_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["xero_sandbox_clients.client_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["xero_sandbox_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_table("xero_sandbox_memberships",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["xero_sandbox_organisations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["xero_sandbox_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "organisation_id")
    )
    op.create_table("demo_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("amount", bankfeeds.kit.types.ExactDecimal(), nullable=False),
        sa.Column("balance", bankfeeds.kit.types.ExactDecimal(), nullable=False),
        sa.Column("published_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("push_operation_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["demo_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "seq", name="uq_demo_transactions_seq")
    )
    op.create_table("sandbox_feeds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("login_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("active_account_id", sa.Uuid(), nullable=True),
        sa.Column("source_account_id", sa.String(length=200), nullable=False),
        sa.Column("source_account_name", sa.String(length=500), nullable=False),
        sa.Column("source_account_type", sa.String(length=30), nullable=False),
        sa.Column("source_account_mask", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("feed_start_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("watermark", sa.Date(), nullable=True),
        sa.Column("bank_balance", bankfeeds.kit.types.ExactDecimal(), nullable=True),
        sa.Column("bank_balance_as_of", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_pulled_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("disconnected_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["sandbox_accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["company_id"], ["sandbox_companies.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["login_id"], ["sandbox_bank_logins.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_account_id")
    )
    op.create_index(op.f("ix_sandbox_feeds_company_id"), "sandbox_feeds", ["company_id"], unique=False)
    op.create_index(op.f("ix_sandbox_feeds_last_attempt_at"), "sandbox_feeds", ["last_attempt_at"], unique=False)
    op.create_table("xero_sandbox_feed_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("account_token", sa.String(length=50), nullable=False),
        sa.Column("live_token", sa.String(length=50), nullable=True),
        sa.Column("live_account_id", sa.Uuid(), nullable=True),
        sa.Column("account_number", sa.String(length=40), nullable=True),
        sa.Column("account_name", sa.String(length=30), nullable=True),
        sa.Column("account_type", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["xero_sandbox_accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["client_id"], ["xero_sandbox_clients.client_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organisation_id"], ["xero_sandbox_organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "live_token"),
        sa.UniqueConstraint("live_account_id")
    )
    op.create_index(op.f("ix_xero_sandbox_feed_connections_organisation_id"), "xero_sandbox_feed_connections", ["organisation_id"], unique=False)
    op.create_table("xero_sandbox_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("spent_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["grant_id"], ["xero_sandbox_grants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash")
    )
    op.create_index(op.f("ix_xero_sandbox_tokens_grant_id"), "xero_sandbox_tokens", ["grant_id"], unique=False)
    op.create_table("sandbox_bank_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("feed_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.String(length=200), nullable=False),
        sa.Column("transaction_date", sa.Date(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("payee", sa.String(length=500), nullable=True),
        sa.Column("amount", bankfeeds.kit.types.ExactDecimal(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("downloaded_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["sandbox_accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["feed_id"], ["sandbox_feeds.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "transaction_id", name="uq_sandbox_bank_transactions_txn")
    )
    op.create_index(op.f("ix_sandbox_bank_transactions_feed_id"), "sandbox_bank_transactions", ["feed_id"], unique=False)
    op.create_table("xero_sandbox_statements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("feed_connection_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("start_amount", bankfeeds.kit.types.ExactDecimal(), nullable=False),
        sa.Column("start_indicator", sa.String(length=6), nullable=False),
        sa.Column("end_amount", bankfeeds.kit.types.ExactDecimal(), nullable=False),
        sa.Column("end_indicator", sa.String(length=6), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.Column("received_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", bankfeeds.kit.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["xero_sandbox_clients.client_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["feed_connection_id"], ["xero_sandbox_feed_connections.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organisation_id"], ["xero_sandbox_organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_xero_sandbox_statements_feed_fingerprint", "xero_sandbox_statements", ["feed_connection_id", "fingerprint"], unique=False)
    op.create_index(op.f("ix_xero_sandbox_statements_organisation_id"), "xero_sandbox_statements", ["organisation_id"], unique=False)
    op.create_index(op.f("ix_xero_sandbox_statements_status"), "xero_sandbox_statements", ["status"], unique=False)
    op.create_table("xero_sandbox_statement_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("feed_connection_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("posted_date", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("amount", bankfeeds.kit.types.ExactDecimal(), nullable=False),
        sa.Column("credit_debit", sa.String(length=6), nullable=False),
        sa.Column("transaction_id", sa.String(length=255), nullable=True),
        sa.Column("payee_name", sa.String(length=255), nullable=True),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("cheque_number", sa.String(length=20), nullable=True),
        sa.Column("transaction_type", sa.String(length=30), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["xero_sandbox_accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["statement_id"], ["xero_sandbox_statements.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_xero_sandbox_statement_lines_account_id"), "xero_sandbox_statement_lines", ["account_id"], unique=False)
    op.create_index("ix_xero_sandbox_statement_lines_feed_txn", "xero_sandbox_statement_lines", ["feed_connection_id", "transaction_id"], unique=False)
    op.create_index(op.f("ix_xero_sandbox_statement_lines_statement_id"), "xero_sandbox_statement_lines", ["statement_id"], unique=False)
