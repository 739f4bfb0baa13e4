"""The one interface every accounting platform implements.

A platform is one module (``platforms/<key>.py`` or a package ``platforms/<key>/``) exposing
``PLATFORM``, an instance of a :class:`Platform` subclass. The rest of the hub asks the platform,
never tests its key:

* **identity**: ``key``, ``name``, Codat's ids, the write rules (``required_fields`` ...);
* **linking**: ``link_page`` (where a linkUrl leads), ``on_unlinked`` (the bank gave up access),
  ``release`` (best-effort clean-up at the platform before the connection is deleted);
* **mapping**: ``mappings`` / ``create_mapping`` (Codat's account-mapping operations) and
  ``company_information``;
* **delivery**: ``accepted`` (a push was validated and stored by the hub: complete it, or leave it
  Pending for the platform's own delivery);
* **feeds**: ``unlinks_without_feeds`` (the connection turns Unlinked when its last source account
  is disconnected), ``pulls_over_idx`` (the platform pulls over the IDX API; stale pulls end feeds).

The calls that reach the platform over the network (``mappings``, ``create_mapping``,
``company_information``, ``release``) take the :class:`~bankfeeds.kit.db.Database`, not a session:
they run their own short transactions around the network calls, never holding a lock (or, on
SQLite, the write lock) while waiting for the platform.
"""

from __future__ import annotations

import uuid
from abc import ABC
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bankfeeds.errors import BadRequest, NotFound

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bankfeeds.account_mapping.schemas import BankFeedAccountMapping
    from bankfeeds.config import Settings
    from bankfeeds.kit.clock import Clock
    from bankfeeds.kit.db import Database
    from bankfeeds.models import Company, Connection, PushOperation, SourceAccount


class Platform(ABC):  # noqa: B024 (every hook has a default; a platform overrides what differs)
    key: str
    name: str
    # The name used in sentences ("QuickBooks Online", "Xero").
    short_name: str
    source_type: str
    # Codat's ids for the integration; constant per platform.
    integration_id: uuid.UUID
    source_id: uuid.UUID
    # Transaction fields the platform requires on write.
    required_fields: tuple[str, ...]
    # Allowed transactionType values, or None for Codat's whole enum.
    transaction_types: tuple[str, ...] | None = None
    # Oldest transaction accepted, in days back from today (None: no limit).
    max_age_days: int | None = None
    # A write is complete once validated and stored (the push operation ends Success in the
    # request). False: it stays Pending until the platform's delivery learns the outcome.
    completes_on_write: bool = True
    # Fields accepted on write but not used by the platform (stored all the same).
    ignored_fields: tuple[str, ...] = ()
    # Most transactions one create-bank-transactions request may carry.
    max_transactions_per_write: int = 1000
    # The platform links with one-time IDX credentials (generate-credentials applies).
    uses_credentials: bool = False
    # Source accounts are mapped through the API (rather than inside the platform).
    maps_through_api: bool = False
    # get-company-information is available.
    has_company_information: bool = False
    # The platform pulls over the IDX API: accounts nobody pulls for a while turn disconnected.
    pulls_over_idx: bool = False
    # The connection turns Unlinked once every source account is disconnected.
    unlinks_without_feeds: bool = False

    def __repr__(self) -> str:
        return f"<Platform {self.key}>"

    # -- linking ------------------------------------------------------------------------------

    def link_page(self, connection: Connection) -> str:
        """Path (under ``/link``) of the first hosted page a linkUrl leads to."""
        return f"/companies/{connection.company_id}/connections/{connection.id}"

    def on_unlinked(self, session: Session, clock: Clock, connection: Connection) -> None:
        """The bank set the connection Unlinked: end what lets the platform pull or push."""

    def release(self, database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID) -> None:
        """Before the connection is deleted: best-effort clean-up at the platform. Never raises."""

    # -- mapping ------------------------------------------------------------------------------

    def _maps_inside(self, connection: Connection) -> str:
        name = self.short_name
        return (
            f"Account mapping through the API is not available for {name} connections: {name} maps "
            f"source accounts inside {name} itself (the user links them there), so data connection "
            f"{connection.id} has no mappings to list or create here."
        )

    def mappings(
        self, database: Database, clock: Clock, settings: Settings, company: Company, connection: Connection
    ) -> list[dict[str, Any]]:
        """get-bank-account-mapping (GET documents no 400: a 404 in Codat's envelope)."""
        raise NotFound(self._maps_inside(connection))

    def create_mapping(
        self, database: Database, clock: Clock, settings: Settings, company: Company, connection: Connection,
        body: BankFeedAccountMapping,
    ) -> dict[str, Any]:
        """create-bank-account-mapping: one source account per call."""
        raise BadRequest(self._maps_inside(connection))

    def company_information(
        self, database: Database, clock: Clock, settings: Settings, company: Company, connection: Connection
    ) -> dict[str, Any]:
        raise BadRequest(
            f"Get company information is not supported for {self.short_name} connections "
            "(Codat supports it for Xero and Oracle NetSuite)."
        )

    # -- delivery -----------------------------------------------------------------------------

    def accepted(
        self, session: Session, clock: Clock, settings: Settings, company: Company, op: PushOperation,
        account: SourceAccount | None, *, written_at: datetime,
    ) -> None:
        """A push passed the hub's rules and its new transactions are stored at ``written_at``
        (``account``: the source account when any were new). Platforms that deliver later leave it
        Pending and queue its delivery in this same transaction."""
