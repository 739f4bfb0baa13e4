"""Xero access tokens: stored encrypted, refreshed under the grant's row lock.

Xero's access tokens live 30 minutes and every refresh returns a new refresh token (the old one
stops working after a short grace period). Two workers refreshing at once would spend the same
refresh token and one of them would lose the grant, so :func:`access_for` refreshes inside a
short transaction of its own that holds the grant row (``FOR UPDATE`` on PostgreSQL; on SQLite
the transaction's ``BEGIN IMMEDIATE`` serialises writers) and stores the rotated pair before it
commits. The second worker then reads the fresh access token instead of refreshing again.

``invalid_grant`` (the SMB disconnected the app in Xero, or the refresh token expired after 60
days unused) turns the connection ``Deauthorized`` (``connection.disconnected``), drops the
grant, commits, and raises ``InvalidGrant`` again. A connection with no grant raises
:class:`NotAuthorized`. Tokens never reach a log or an error message.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.kit import crypto
from bankfeeds.kit.clock import Clock, utc
from bankfeeds.kit.db import Database
from bankfeeds.models import Connection, XeroGrant
from bankfeeds.platforms.gbol.grants import XeroRepository
from bankfeeds.platforms.gbol.xero_api import Access, InvalidGrant, TokenSet, XeroApi

# Refresh when the access token has less than this left.
REFRESH_MARGIN = timedelta(minutes=5)
ACCESS_PURPOSE = "xero-access-token"
REFRESH_PURPOSE = "xero-refresh-token"


class NotAuthorized(Exception):
    """The connection holds no usable Xero grant (never linked, deauthorized or deleted)."""


def store(settings: Settings, grant: XeroGrant, tokens: TokenSet, now: object) -> None:
    grant.access_token_encrypted = crypto.encrypt(settings, tokens.access_token, purpose=ACCESS_PURPOSE)
    grant.refresh_token_encrypted = crypto.encrypt(settings, tokens.refresh_token, purpose=REFRESH_PURPOSE)
    grant.access_expires_at = tokens.expires_at
    grant.scope = tokens.scope or grant.scope or ""


def new_grant(settings: Settings, clock: Clock, connection_id: uuid.UUID, tokens: TokenSet) -> XeroGrant:
    now = clock.now()
    grant = XeroGrant(connection_id=connection_id, created_at=now, updated_at=now, scope="")
    store(settings, grant, tokens, now)
    return grant


def _token(
    database: Database, clock: Clock, settings: Settings, api: XeroApi, connection_id: uuid.UUID,
    *, need_tenant: bool,
) -> tuple[str, str | None]:
    refused: InvalidGrant | None = None
    with database.unit_of_work() as session:
        repo = XeroRepository(session)
        grant = repo.grant(connection_id, for_update=True)
        if grant is None or (need_tenant and grant.tenant_id is None):
            raise NotAuthorized(f"Data connection {connection_id} is not linked to a Xero organisation.")
        now = clock.now()
        if utc(grant.access_expires_at) - now > REFRESH_MARGIN:
            return crypto.decrypt(settings, grant.access_token_encrypted, purpose=ACCESS_PURPOSE), grant.tenant_id
        refresh_token = crypto.decrypt(settings, grant.refresh_token_encrypted, purpose=REFRESH_PURPOSE)
        try:
            tokens = api.refresh(refresh_token)
        except InvalidGrant as exc:
            connection = session.get(Connection, connection_id)
            if connection is not None:
                connections.set_status(session, clock, settings, connection.company, connection,
                                       connections.DEAUTHORIZED)
            repo.drop_grant(connection_id)
            refused = exc
        else:
            store(settings, grant, tokens, now)
            grant.updated_at = now
            session.flush()
            access, tenant = tokens.access_token, grant.tenant_id
    if refused is not None:
        # Committed above: the connection is Deauthorized and the grant gone.
        raise refused
    return access, tenant


def access_for(
    database: Database, clock: Clock, settings: Settings, api: XeroApi, connection_id: uuid.UUID
) -> Access:
    """A live access token and the tenant of the connection (refreshed first if needed)."""
    token, tenant = _token(database, clock, settings, api, connection_id, need_tenant=True)
    assert tenant is not None
    return Access(token, tenant)


def bearer_for(database: Database, clock: Clock, settings: Settings, api: XeroApi, connection_id: uuid.UUID) -> str:
    """A live access token while the organisation is still being chosen (no tenant yet)."""
    return _token(database, clock, settings, api, connection_id, need_tenant=False)[0]
