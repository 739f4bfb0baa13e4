from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Platform:
    key: str
    name: str
    source_type: str
    # Codat's ids for the integration; constant per platform.
    integration_id: uuid.UUID
    source_id: uuid.UUID
    # The platform pulls over the IDX API and links with one-time credentials (QuickBooks).
    uses_credentials: bool
    # Source accounts are mapped through the API (Xero) rather than inside the platform (QuickBooks).
    maps_through_api: bool
    # Transaction fields the platform requires on write.
    required_fields: tuple[str, ...]
    # Allowed transactionType values, or None for Codat's whole enum.
    transaction_types: tuple[str, ...] | None
    # Oldest transaction accepted, in days back from today (None: no limit).
    max_age_days: int | None
    # A write is complete once validated and stored (QuickBooks pulls it later over IDX), so the
    # push operation ends Success in the request. False: it stays Pending until delivered (Xero).
    completes_on_write: bool = True
    # Fields accepted on write but not used by the platform (stored all the same).
    ignored_fields: tuple[str, ...] = ()
    # Most transactions one create-bank-transactions request may carry.
    max_transactions_per_write: int = 1000
