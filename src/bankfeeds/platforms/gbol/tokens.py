"""Xero access tokens: stored encrypted, refreshed by one worker at a time.

Xero's access tokens live 30 minutes and every refresh returns a new refresh token (the old one
stops working). Two workers refreshing at once would spend the same refresh token and one of them
would lose the grant, so :func:`access_for` refreshes under the grant's owner lock
(``kit/locks.py``: a PostgreSQL advisory lock, or a file lock beside a SQLite database, freed if
the holder dies), reads the grant again under it, and stores the rotated pair before releasing it.
The second worker then reads the fresh access token instead of refreshing again. No database
transaction stays open across the call to Xero.

``invalid_grant`` (the SMB disconnected the app in Xero, or the refresh token expired after 60
days unused) turns the connection ``Deauthorized`` (``connection.disconnected``), drops the
grant, commits, and raises ``InvalidGrant`` again. A connection with no grant raises
:class:`NotAuthorized`. Tokens never reach a log or an error message.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.kit import crypto, locks
from bankfeeds.kit.clock import Clock, utc
from bankfeeds.kit.db import Database
from bankfeeds.models import Connection, ConnectionStatus, XeroGrant
from bankfeeds.platforms.gbol.grants import XeroRepository
from bankfeeds.platforms.gbol.xero_api import Access, InvalidGrant, TokenSet, Transient, XeroApi

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


def _read(database: Database, connection_id: uuid.UUID, need_tenant: bool) -> XeroGrant:
    with database.unit_of_work() as session:
        grant = XeroRepository(session).grant(connection_id)
        if grant is None or (need_tenant and grant.tenant_id is None):
            raise NotAuthorized(f"Data connection {connection_id} is not linked to a Xero organisation.")
        return grant


def _fresh(grant: XeroGrant, clock: Clock) -> bool:
    return utc(grant.access_expires_at) - clock.now() > REFRESH_MARGIN


def _hold(database: Database, settings: Settings, connection_id: uuid.UUID) -> locks.Held:
    """The grant's refresh lock: one refresher at a time, across processes, freed if its holder dies."""
    deadline = time.monotonic() + settings.xero_timeout_seconds + 5
    pause = 0.02
    while True:
        held = locks.try_acquire(database, f"xero-grant-refresh:{connection_id}")
        if held is not None:
            return held
        if time.monotonic() > deadline:
            raise Transient("Another worker is refreshing this organisation's Xero token; try again shortly.")
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def _token(
    database: Database, clock: Clock, settings: Settings, api: XeroApi, connection_id: uuid.UUID,
    *, need_tenant: bool,
) -> tuple[str, str | None]:
    grant = _read(database, connection_id, need_tenant)
    if _fresh(grant, clock):
        return crypto.decrypt(settings, grant.access_token_encrypted, purpose=ACCESS_PURPOSE), grant.tenant_id
    # No database transaction stays open across the call to Xero (on SQLite it would hold the
    # write lock, and an in-process Xero sandbox sharing the file could never answer): the
    # refresh runs under the grant's owner lock instead, and the rotated pair is stored after.
    held = _hold(database, settings, connection_id)
    try:
        grant = _read(database, connection_id, need_tenant)
        if _fresh(grant, clock):  # another worker refreshed it meanwhile
            return crypto.decrypt(settings, grant.access_token_encrypted, purpose=ACCESS_PURPOSE), grant.tenant_id
        refresh_token = crypto.decrypt(settings, grant.refresh_token_encrypted, purpose=REFRESH_PURPOSE)
        try:
            tokens = api.refresh(refresh_token)
        except InvalidGrant:
            with database.unit_of_work() as session:
                connection = session.get(Connection, connection_id)
                if connection is not None:
                    connections.set_status(session, clock, settings, connection.company, connection,
                                           ConnectionStatus.DEAUTHORIZED)
                XeroRepository(session).drop_grant(connection_id)
            raise
        with database.unit_of_work() as session:
            row = XeroRepository(session).grant(connection_id, for_update=True)
            if row is None:
                raise NotAuthorized(f"Data connection {connection_id} was unlinked while its token was refreshed.")
            now = clock.now()
            store(settings, row, tokens, now)
            row.updated_at = now
            return tokens.access_token, row.tenant_id
    finally:
        held.release()


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
