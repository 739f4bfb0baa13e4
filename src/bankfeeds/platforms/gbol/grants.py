"""All SQL of Xero linking and mapping: grants, pending authorizations, the feeds of a connection."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bankfeeds.models import Connection, SourceAccount, SourceAccountStatus, XeroAuthorization, XeroGrant

# Source-account statuses that hold a target (a feed exists or is being made).
HOLDING = (SourceAccountStatus.CONNECTING, SourceAccountStatus.CONNECTED)


class XeroRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- grants --------------------------------------------------------------------------------

    def grant(self, connection_id: uuid.UUID, *, for_update: bool = False) -> XeroGrant | None:
        stmt = select(XeroGrant).where(XeroGrant.connection_id == connection_id)
        if for_update:
            # populate_existing: a row read earlier in the transaction is refreshed under the lock.
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(stmt).one_or_none()

    def put_grant(self, grant: XeroGrant) -> XeroGrant:
        self.session.add(grant)
        self.session.flush()
        return grant

    def drop_grant(self, connection_id: uuid.UUID) -> None:
        self.session.execute(delete(XeroGrant).where(XeroGrant.connection_id == connection_id))

    def connections_of_tenant(self, tenant_id: str, *, excluding: uuid.UUID) -> list[uuid.UUID]:
        stmt = select(XeroGrant.connection_id).where(
            XeroGrant.tenant_id == tenant_id, XeroGrant.connection_id != excluding
        )
        return list(self.session.scalars(stmt))

    # -- authorizations ------------------------------------------------------------------------

    def add_authorization(self, row: XeroAuthorization) -> None:
        self.session.add(row)
        self.session.flush()

    def take_authorization(self, state_hash: str, now: datetime) -> XeroAuthorization | None:
        """The live authorization for ``state_hash``, deleted (single use); None if unknown,
        used or expired."""
        row = self.session.scalars(
            select(XeroAuthorization).where(XeroAuthorization.state_hash == state_hash).with_for_update()
        ).one_or_none()
        if row is None:
            return None
        self.session.delete(row)
        self.session.flush()
        return row if row.expires_at > now else None

    def purge_authorizations(self, connection_id: uuid.UUID, now: datetime) -> None:
        self.session.execute(delete(XeroAuthorization).where(
            XeroAuthorization.connection_id == connection_id, XeroAuthorization.expires_at <= now))

    # -- feeds ---------------------------------------------------------------------------------

    def feed_ids(self, connection_id: uuid.UUID) -> list[str]:
        stmt = select(SourceAccount.feed_connection_id).where(
            SourceAccount.connection_id == connection_id, SourceAccount.feed_connection_id.is_not(None)
        )
        return [f for f in self.session.scalars(stmt) if f]

    def targets_held_elsewhere(self, tenant_id: str, target_id: str, *, connection_id: uuid.UUID) -> list[Connection]:
        """Other connections of the same Xero organisation whose source accounts feed ``target_id``."""
        stmt = (
            select(Connection)
            .join(SourceAccount, SourceAccount.connection_id == Connection.id)
            .join(XeroGrant, XeroGrant.connection_id == Connection.id)
            .where(
                XeroGrant.tenant_id == tenant_id,
                Connection.id != connection_id,
                SourceAccount.target_account_id == target_id,
                SourceAccount.status.in_(HOLDING),
            )
        )
        return list(self.session.scalars(stmt).unique())

    def connecting_feeds(self, platform_key: str, linked: str, limit: int) -> list[tuple[uuid.UUID, str]]:
        """(connection id, account id) of source accounts whose feed Xero has not confirmed yet."""
        stmt = (
            select(SourceAccount.connection_id, SourceAccount.account_id)
            .join(Connection, Connection.id == SourceAccount.connection_id)
            .where(Connection.platform_key == platform_key, Connection.status == linked,
                   SourceAccount.status == SourceAccountStatus.CONNECTING,
                   SourceAccount.feed_connection_id.is_not(None))
            .order_by(SourceAccount.modified_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in self.session.execute(stmt)]
