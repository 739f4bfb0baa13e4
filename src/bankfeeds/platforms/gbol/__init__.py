"""Xero (``gbol``): linked by OAuth, mapped through the API, pushes delivered as Xero statements."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from bankfeeds.platforms.base import Platform

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bankfeeds.config import Settings
    from bankfeeds.kit.clock import Clock
    from bankfeeds.models import Company, PushOperation, SourceAccount


class Xero(Platform):
    key = "gbol"
    name = "Xero"
    short_name = "Xero"
    source_type = "Accounting"
    integration_id = uuid.UUID("0f20c943-12d0-4800-9f6c-d218f62d494c")
    source_id = uuid.UUID("8a156a5a-39cb-4f9d-856e-76ef9b9a9607")
    required_fields = ("id", "date", "amount", "balance")
    transaction_types = None
    max_age_days = 365
    # Pending until Xero has processed the statement (platforms/gbol/delivery.py).
    completes_on_write = False
    maps_through_api = True
    has_company_information = True

    def accepted(
        self, session: Session, clock: Clock, settings: Settings, company: Company, op: PushOperation,
        account: SourceAccount | None, *, written_at: datetime,
    ) -> None:
        from bankfeeds.platforms.gbol import delivery
        from bankfeeds.push_operations import service as push_operations

        if account is None:
            # Every transaction was one the account already holds: nothing to send.
            push_operations.succeed(session, clock, settings, company, op, None)
            return
        delivery.enqueue(session, clock, op, account, written_at)


PLATFORM = Xero()
XERO = PLATFORM
