"""Account mapping through the API and company information: asked of the connection's platform.

Xero (``gbol``) maps through the API against the organisation's real chart of accounts
(``platforms/gbol/mapping.py``); QuickBooks Online maps inside QuickBooks, so its connections
are refused (POST with a 400; GET, which documents no 400, with a 404 in Codat's envelope).
The platform reaches the accounting system over the network, so these functions take the
database and open their own short transactions (no lock held while a platform answers).
"""

from __future__ import annotations

import uuid
from typing import Any

from bankfeeds.account_mapping.schemas import BankFeedAccountMapping
from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection
from bankfeeds.source_accounts.service import resolve


def _resolve(database: Database, company_id: uuid.UUID, connection_id: uuid.UUID) -> tuple[Company, Connection]:
    with database.unit_of_work() as session:
        company, connection = resolve(session, company_id, connection_id)
        session.expunge_all()
    return company, connection


def list_mappings(
    database: Database, clock: Clock, settings: Settings, company_id: uuid.UUID, connection_id: uuid.UUID
) -> list[dict[str, Any]]:
    """get-bank-account-mapping: one ``BankFeedMapping`` per source account."""
    company, connection = _resolve(database, company_id, connection_id)
    return connections.platform_of(connection).mappings(database, clock, settings, company, connection)


def create_mapping(
    database: Database, clock: Clock, settings: Settings, company_id: uuid.UUID, connection_id: uuid.UUID,
    body: BankFeedAccountMapping,
) -> dict[str, Any]:
    """create-bank-account-mapping: map one source account."""
    company, connection = _resolve(database, company_id, connection_id)
    return connections.platform_of(connection).create_mapping(database, clock, settings, company, connection, body)


def company_information(
    database: Database, clock: Clock, settings: Settings, company_id: uuid.UUID, connection_id: uuid.UUID
) -> dict[str, Any]:
    """get-company-information (``CompanyInformation``)."""
    company, connection = _resolve(database, company_id, connection_id)
    return connections.platform_of(connection).company_information(database, clock, settings, company, connection)
