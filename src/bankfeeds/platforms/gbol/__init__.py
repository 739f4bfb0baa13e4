"""Xero (``gbol``): linked by OAuth, mapped through the API, transactions pushed to Xero."""

from __future__ import annotations

import uuid

from bankfeeds.platforms.base import Platform

XERO = Platform(
    key="gbol",
    name="Xero",
    source_type="Accounting",
    integration_id=uuid.UUID("0f20c943-12d0-4800-9f6c-d218f62d494c"),
    source_id=uuid.UUID("8a156a5a-39cb-4f9d-856e-76ef9b9a9607"),
    uses_credentials=False,
    maps_through_api=True,
    required_fields=("id", "date", "amount", "balance"),
    transaction_types=None,
    max_age_days=365,
    # Delivery to Xero is not built yet: writes are stored and their push operation stays Pending
    # (until it times out, when the client asked for a timeout).
    completes_on_write=False,
)
