"""QuickBooks Online Bank Feeds (``hcws``): linked with one-time IDX credentials, pulls over IDX,
maps accounts inside QuickBooks, and a write is complete once stored (QuickBooks pulls it later)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from bankfeeds.credentials.repository import CredentialRepository
from bankfeeds.platforms.base import Platform
from bankfeeds.push_operations import service as push_operations

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bankfeeds.config import Settings
    from bankfeeds.kit.clock import Clock
    from datetime import datetime

    from bankfeeds.models import Company, Connection, PushOperation, SourceAccount


class QuickBooks(Platform):
    key = "hcws"
    name = "QuickBooks Online Bank Feeds"
    short_name = "QuickBooks Online"
    source_type = "BankFeed"
    integration_id = uuid.UUID("6b113e06-e818-45d7-977b-8e6bb3d01269")
    source_id = uuid.UUID("1c2a8a7e-1f60-4a53-a0d3-3a6f0b6f2c11")
    required_fields = ("id", "date", "description", "amount", "balance")
    transaction_types = ("Credit", "Debit", "Unknown")
    max_age_days = None
    completes_on_write = True
    ignored_fields = ("counterparty", "reference", "reconciled")
    uses_credentials = True
    pulls_over_idx = True
    # QuickBooks' connection exists only for its feeds (Codat's rule).
    unlinks_without_feeds = True

    def on_unlinked(self, session: Session, clock: Clock, connection: Connection) -> None:
        # The bank gave up access: the platform's next pull must not quietly relink the feed.
        # Linking again takes new credentials from a fresh linkUrl.
        CredentialRepository(session).revoke_all(connection.id, clock.now())

    def accepted(
        self, session: Session, clock: Clock, settings: Settings, company: Company, op: PushOperation,
        account: SourceAccount | None, *, written_at: datetime,
    ) -> None:
        push_operations.succeed(session, clock, settings, company, op, account.account_id if account else None)


PLATFORM = QuickBooks()
# The name other modules (and tests) know it by.
QUICKBOOKS = PLATFORM
