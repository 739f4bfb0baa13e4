"""QuickBooks Online Bank Feeds (``hcws``): linked with one-time credentials, pulls over IDX."""

from __future__ import annotations

import uuid

from bankfeeds.platforms.base import Platform

QUICKBOOKS = Platform(
    key="hcws",
    name="QuickBooks Online Bank Feeds",
    source_type="BankFeed",
    integration_id=uuid.UUID("6b113e06-e818-45d7-977b-8e6bb3d01269"),
    source_id=uuid.UUID("1c2a8a7e-1f60-4a53-a0d3-3a6f0b6f2c11"),
    uses_credentials=True,
    maps_through_api=False,
    required_fields=("id", "date", "description", "amount", "balance"),
    transaction_types=("Credit", "Debit", "Unknown"),
    max_age_days=None,
    completes_on_write=True,
    ignored_fields=("counterparty", "reference", "reconciled"),
)
