"""Xero (``gbol``): linked by OAuth 2.0 (PKCE) from the hosted pages, mapped through the API and
the hosted mapping page against the organisation's chart, pushes delivered as Xero statements.

Modules: ``xero_api`` (the one HTTP client), ``tokens`` (grants, refresh under a row lock),
``linking`` (consent and callback), ``mapping`` (options, feed connections, disconnect, company
information, clean-up before delete), ``delivery``/``statements``/``budget`` (pushes to Xero).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bankfeeds.models import ConnectionStatus
from bankfeeds.platforms.base import Platform
from bankfeeds.platforms.gbol import delivery, mapping
from bankfeeds.push_operations import service as push_operations

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bankfeeds.account_mapping.schemas import BankFeedAccountMapping
    from bankfeeds.config import Settings
    from bankfeeds.kit.clock import Clock
    from bankfeeds.kit.db import Database
    from bankfeeds.models import Company, Connection, PushOperation, SourceAccount


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
    # Delivered by the worker as Xero statements; the push stays Pending until Xero has it.
    completes_on_write = False
    maps_through_api = True
    has_company_information = True

    def link_page(self, connection: Connection) -> str:
        base = f"/companies/{connection.company_id}/connections/{connection.id}/xero"
        # A linked connection's fresh linkUrl opens "Manage connected accounts".
        return f"{base}/accounts" if connection.status == ConnectionStatus.LINKED else base

    def release(self, database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID) -> None:
        mapping.release(database, clock, settings, connection_id)

    def release_account(
        self, database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID, account_id: str
    ) -> None:
        mapping.release_account(database, clock, settings, connection_id, account_id)

    def mappings(
        self, database: Database, clock: Clock, settings: Settings, company: Company, connection: Connection
    ) -> list[dict[str, Any]]:
        return mapping.mappings(database, clock, settings, company, connection)

    def create_mapping(
        self, database: Database, clock: Clock, settings: Settings, company: Company, connection: Connection,
        body: BankFeedAccountMapping,
    ) -> dict[str, Any]:
        return mapping.create_mapping(database, clock, settings, company, connection, body)

    def company_information(
        self, database: Database, clock: Clock, settings: Settings, company: Company, connection: Connection
    ) -> dict[str, Any]:
        return mapping.company_information(database, clock, settings, company, connection)

    def accepted(
        self, session: Session, clock: Clock, settings: Settings, company: Company, op: PushOperation,
        account: SourceAccount | None, *, written_at: datetime,
    ) -> None:
        if account is None:
            # Every transaction was one the account already holds: nothing to send.
            push_operations.succeed(session, clock, settings, company, op, None)
            return
        # Delivered by the worker (platforms/gbol/delivery.py); Pending until Xero has it.
        delivery.enqueue(session, clock, op, account, written_at)


PLATFORM = Xero()
XERO = PLATFORM
