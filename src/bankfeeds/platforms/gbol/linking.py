"""Linking a Xero organisation: OAuth 2.0 authorization code with PKCE, from the hosted pages.

1. "Connect to Xero" (:func:`begin`): a random ``state`` and PKCE verifier are made; the state is
   stored as a keyed hash *bound to the link session* (the hash covers the session's own secret),
   the verifier encrypted, for ten minutes, and the browser goes to Xero's authorize URL.
2. Xero sends the browser back to ``/link/xero/callback`` (:func:`callback`): the state must match
   a live authorization of this browser's link session, and is spent at once (single use). A
   bad, expired or replayed state, or consent refused, is a clear page and ``connection.failed``
   (only a ``PendingAuth`` connection fails; a linked one is left alone); nothing is linked.
3. The code is exchanged (client id and secret as HTTP Basic, the PKCE verifier), ``GET
   /connections`` lists the organisations the user allowed: one is taken at once; several are
   offered on a page (:func:`choose`), and the others are disconnected from the app.
4. ``GET Organisation`` gives the name; the grant is stored (tokens encrypted) and the connection
   turns ``Linked`` (``connection.connected``, or ``connection.reconnected`` after a relink).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.kit import crypto
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.kit.security import keyed_hash
from bankfeeds.models import Connection, ConnectionStatus, XeroAuthorization
from bankfeeds.platforms.gbol import tokens as grants
from bankfeeds.platforms.gbol.client import open_api
from bankfeeds.platforms.gbol.grants import XeroRepository
from bankfeeds.platforms.gbol.tokens import NotAuthorized
from bankfeeds.platforms.gbol.xero_api import Access, TokenSet, XeroApi, XeroError, XeroTenant

log = logging.getLogger("bankfeeds.xero")

AUTHORIZATION_TTL = timedelta(minutes=10)
VERIFIER_PURPOSE = "xero-pkce-verifier"
_STATE = re.compile(r"[A-Za-z0-9_-]{20,100}")


def _state_hash(settings: Settings, state: str, session_secret: str) -> str:
    return keyed_hash(settings.secret_key, f"{state}:{session_secret}", purpose="xero-oauth-state")


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def begin(
    database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID, session_secret: str
) -> str:
    """Record a new authorization for the connection; the URL of Xero's consent to send the user to."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within PKCE's 43-128
    now = clock.now()
    with database.unit_of_work() as session:
        repo = XeroRepository(session)
        repo.purge_authorizations(connection_id, now)
        repo.add_authorization(XeroAuthorization(
            connection_id=connection_id, state_hash=_state_hash(settings, state, session_secret),
            code_verifier_encrypted=crypto.encrypt(settings, verifier, purpose=VERIFIER_PURPOSE),
            created_at=now, expires_at=now + AUTHORIZATION_TTL,
        ))
    with open_api(settings, database, clock) as api:
        return api.authorize_url(state=state, code_challenge=code_challenge(verifier))


@dataclass(frozen=True)
class Outcome:
    """Where the callback (or a choice) leaves the user: ``linked``, ``choose`` (several
    organisations), or ``failed`` with a reason (``state``, ``denied``, ``xero``, ``no-organisation``)."""

    kind: str
    reason: str | None = None
    tenant_name: str | None = None


_FAILURES = {
    "state": ("400", "Invalid state", "The Xero sign-in could not be matched to this link (state missing, "
              "expired or already used)."),
    "denied": ("403", "User denied access", "The user did not allow access to Xero."),
    "xero": ("502", "Xero error", "Xero could not complete the connection."),
    "no-organisation": ("403", "No organisation", "No Xero organisation was allowed."),
}


def _fail(database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID, reason: str) -> Outcome:
    code, text, message = _FAILURES[reason]
    with database.unit_of_work() as session:
        connection = session.get(Connection, connection_id)
        if connection is not None:
            connections.fail_link(session, clock, settings, connection.company, connection,
                                  status_code=code, status_text=text, error_message=message)
    return Outcome("failed", reason)


def callback(
    database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID, session_secret: str, *,
    state: str | None, code: str | None, error: str | None,
) -> Outcome:
    """Xero's redirect back, for the connection of the browser's link session."""
    verifier = None
    if state and _STATE.fullmatch(state):
        with database.unit_of_work() as session:
            row = XeroRepository(session).take_authorization(_state_hash(settings, state, session_secret),
                                                             clock.now())
            if row is not None and row.connection_id == connection_id:
                verifier = crypto.decrypt(settings, row.code_verifier_encrypted, purpose=VERIFIER_PURPOSE)
    if verifier is None:
        return _fail(database, clock, settings, connection_id, "state")
    if error or not code:
        return _fail(database, clock, settings, connection_id, "denied" if error == "access_denied" or not code
                     else "xero")
    try:
        with open_api(settings, database, clock) as api:
            tokens = api.exchange_code(code, verifier)
            tenants = api.connections(tokens.access_token)
            if not tenants:
                return _fail(database, clock, settings, connection_id, "no-organisation")
            if len(tenants) == 1:
                return _link(database, clock, settings, api, connection_id, tokens, tenants[0], tenants)
            _store(database, clock, settings, connection_id, tokens, None)
            return Outcome("choose")
    except XeroError as exc:
        log.warning("Xero linking of connection %s failed: %s", connection_id, type(exc).__name__)
        return _fail(database, clock, settings, connection_id, "xero")


def organisations(database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID) -> list[XeroTenant]:
    """The organisations the user allowed (while choosing one)."""
    with open_api(settings, database, clock) as api:
        token = grants.bearer_for(database, clock, settings, api, connection_id)
        return [t for t in api.connections(token) if t.tenant_type in ("ORGANISATION", "")]


def choose(
    database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID, tenant_id: str
) -> Outcome:
    """The user picked one of several organisations."""
    try:
        with open_api(settings, database, clock) as api:
            token = grants.bearer_for(database, clock, settings, api, connection_id)
            tenants = api.connections(token)
            chosen = next((t for t in tenants if t.tenant_id == tenant_id), None)
            if chosen is None:
                return Outcome("choose", "unknown-organisation")
            return _link(database, clock, settings, api, connection_id, None, chosen, tenants, token=token)
    except NotAuthorized:
        return Outcome("failed", "state")
    except XeroError as exc:
        log.warning("Xero organisation choice of connection %s failed: %s", connection_id, type(exc).__name__)
        return _fail(database, clock, settings, connection_id, "xero")


def _store(
    database: Database, clock: Clock, settings: Settings, connection_id: uuid.UUID, tokens: TokenSet,
    tenant: XeroTenant | None, tenant_name: str | None = None,
) -> None:
    with database.unit_of_work() as session:
        repo = XeroRepository(session)
        repo.drop_grant(connection_id)
        grant = grants.new_grant(settings, clock, connection_id, tokens)
        if tenant is not None:
            grant.tenant_id = tenant.tenant_id
            grant.xero_connection_id = tenant.connection_id
            grant.tenant_name = tenant_name or tenant.tenant_name
        repo.put_grant(grant)


def _link(
    database: Database, clock: Clock, settings: Settings, api: XeroApi, connection_id: uuid.UUID,
    tokens: TokenSet | None, tenant: XeroTenant, allowed: list[XeroTenant], *, token: str | None = None,
) -> Outcome:
    access_token = tokens.access_token if tokens is not None else token
    assert access_token is not None
    org = api.organisation(Access(access_token, tenant.tenant_id))
    name = str(org.get("Name") or tenant.tenant_name or "")
    if tokens is not None:
        _store(database, clock, settings, connection_id, tokens, tenant, name)
    with database.unit_of_work() as session:
        repo = XeroRepository(session)
        grant = repo.grant(connection_id, for_update=True)
        connection = session.get(Connection, connection_id)
        if grant is None or connection is None:
            return Outcome("failed", "state")
        grant.tenant_id = tenant.tenant_id
        grant.xero_connection_id = tenant.connection_id
        grant.tenant_name = name
        grant.updated_at = clock.now()
        connections.set_status(session, clock, settings, connection.company, connection, ConnectionStatus.LINKED)
    # The app keeps access only to the organisation chosen (best effort).
    for other in allowed:
        if other.tenant_id != tenant.tenant_id and other.connection_id:
            try:
                api.delete_connection(access_token, other.connection_id)
            except XeroError as exc:
                log.info("unchosen Xero organisation not disconnected: %s", type(exc).__name__)
    return Outcome("linked", tenant_name=name)


def tenant_name(database: Database, connection_id: uuid.UUID) -> str | None:
    with database.unit_of_work() as session:
        grant = XeroRepository(session).grant(connection_id)
        return grant.tenant_name if grant is not None else None
