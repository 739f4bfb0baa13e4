"""The hosted link pages' rules: one-time passwords, the short signed session, CSRF, the two actions.

* The linkUrl's OTP is checked by its keyed hash (no comparison of secrets in clear), must be
  unexpired (one hour, from the clock) and belong to the connection and company in the path.
* **OTPs are single-use**: redeeming one deletes it (Codat calls secure links single-use). It opens
  a session for pages 1 and 2: a signed cookie (HttpOnly, SameSite=Lax, Path=/link, 30 minutes)
  carrying a random token whose keyed hash is a ``link_sessions`` row. The row is the session:
  Cancel, Revoke (on page 2, or the API's delete-bank-feed-credentials) end it server-side, and the
  old cookie and CSRF token stop working at once (Revoke on page 2 opens a fresh one for the user).
  Reloading the start URL afterwards finds the session and carries on; without it, 401.
* Every form carries a CSRF token that must equal the one inside the signed session.
* Wrong OTPs are throttled per (connection, address) and per connection
  (``credentials.throttle``): guesses at one link never block another customer's.
* **Cancel** (pages 1 and 2): linking a ``PendingAuth`` connection fails as in Codat's example
  (``connection.failed``, 403 "User cancelled linking"); the connection stays ``PendingAuth``, keeps
  that error (``dataConnectionErrors``) until it links, and loses any credentials got in the journey.
  The session ends; linking again takes a fresh linkUrl. Any other status: nothing happens.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.connections import otp as signed_otp
from bankfeeds.connections import service as connections
from bankfeeds.credentials import service as credentials
from bankfeeds.credentials import throttle
from bankfeeds.credentials.schemas import BankAccountCredentials
from bankfeeds.errors import BankfeedsError, Unauthorized
from bankfeeds.kit import csrf
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.security import keyed_hash, same
from bankfeeds.link.repository import LinkRepository
from bankfeeds.models import Connection, ConnectionStatus, LinkSessionRecord

SESSION_COOKIE = "bankfeeds_link"
SESSION_TTL = timedelta(minutes=30)
_OTP = re.compile(r"[A-Za-z0-9]{4,32}")
_EXPIRED = "This link has expired or has already been used; ask for a fresh link."


@dataclass(frozen=True)
class LinkSession:
    company_id: uuid.UUID
    connection_id: uuid.UUID
    csrf: str
    expires_at: datetime
    # Random; its keyed hash names the server-side row that keeps the session alive.
    token: str = ""

    def covers(self, company_id: uuid.UUID, connection_id: uuid.UUID) -> bool:
        return self.company_id == company_id and self.connection_id == connection_id


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt="bankfeeds.link.session")


def encode_session(settings: Settings, link: LinkSession) -> str:
    return _serializer(settings).dumps({
        "company": str(link.company_id), "connection": str(link.connection_id),
        "csrf": link.csrf, "exp": int(link.expires_at.timestamp()), "sid": link.token,
    })


def decode_session(settings: Settings, clock: Clock, raw: str | None) -> LinkSession | None:
    """The session in the cookie, or None if it is missing, forged, malformed or expired."""
    if not raw or len(raw) > 1024:
        return None
    try:
        data: Any = _serializer(settings).loads(raw)
        link = LinkSession(
            company_id=uuid.UUID(str(data["company"])),
            connection_id=uuid.UUID(str(data["connection"])),
            csrf=str(data["csrf"]),
            expires_at=datetime.fromtimestamp(int(data["exp"]), tz=UTC),
            token=str(data["sid"]),
        )
    except (BadSignature, KeyError, TypeError, ValueError, OverflowError):
        return None
    return link if link.expires_at > clock.now() else None


def _token_hash(settings: Settings, token: str) -> str:
    return keyed_hash(settings.secret_key, token, purpose="link-session")


def new_session(
    session: Session, clock: Clock, settings: Settings, company_id: uuid.UUID, connection_id: uuid.UUID
) -> LinkSession:
    """A fresh session, recorded server-side (expired rows of the connection are dropped)."""
    now = clock.now()
    link = LinkSession(company_id, connection_id, csrf.new_token(), now + SESSION_TTL,
                       token=secrets.token_urlsafe(32))
    repo = LinkRepository(session)
    repo.purge_sessions(connection_id, now)
    repo.add(LinkSessionRecord(id=uuid.uuid4(), connection_id=connection_id,
                                       token_hash=_token_hash(settings, link.token), created_at=now,
                                       expires_at=link.expires_at))
    return link


def is_live(session: Session, clock: Clock, settings: Settings, link: LinkSession) -> bool:
    """Whether the session's server-side row still exists, unexpired and not ended."""
    if not link.token or len(link.token) > 100:
        return False
    row = LinkRepository(session).active_session(_token_hash(settings, link.token), link.connection_id,
                                                 clock.now())
    return row is not None and same(row.token_hash, _token_hash(settings, link.token))


def end_sessions(session: Session, clock: Clock, connection: Connection) -> None:
    LinkRepository(session).end_sessions(connection.id, clock.now())


def start(
    session: Session, clock: Clock, settings: Settings, company_id: uuid.UUID, connection_id: uuid.UUID,
    otp: str | None, existing: LinkSession | None, address: str,
) -> LinkSession | BankfeedsError:
    """Redeem the OTP (or keep the session it opened before). Runs in its own transaction, which
    commits failure counts too, so an error is returned for the caller to raise after the commit."""
    subjects = [throttle.subject(settings, throttle.LINK_ADDRESS, str(connection_id), address),
                throttle.subject(settings, throttle.LINK_CONNECTION, str(connection_id))]
    blocked = throttle.check(session, clock, subjects)
    if blocked is not None:
        return blocked
    repo = LinkRepository(session)
    if otp and _OTP.fullmatch(otp.strip()) and _redeem(repo, clock, settings, company_id, connection_id,
                                                      otp.strip().upper()):
        return new_session(session, clock, settings, company_id, connection_id)
    if existing is not None and existing.covers(company_id, connection_id) and \
            repo.connection(company_id, connection_id) is not None and is_live(session, clock, settings, existing):
        return existing
    if otp:
        throttle.record_failure(session, clock, subjects)
    return Unauthorized(_EXPIRED)


def _redeem(repo: LinkRepository, clock: Clock, settings: Settings, company_id: uuid.UUID,
            connection_id: uuid.UUID, otp: str) -> bool:
    """Whether ``otp`` opens this connection's link, now and never again."""
    now = clock.now()
    expires_at = signed_otp.verify(settings, connection_id, otp, now)
    if expires_at is not None:
        return repo.connection(company_id, connection_id) is not None and \
            repo.redeem_otp(connection_id, signed_otp.redemption_key(otp), now, expires_at)
    # A linkUrl handed out before they carried signed OTPs (valid an hour, as these are).
    digest = keyed_hash(settings.secret_key, otp, purpose="link-otp")
    row = repo.live_otp(company_id, connection_id, digest, now)
    if row is None or not same(row.otp_hash, digest):
        return False
    repo.consume(row)
    return True


def require(
    session: Session, clock: Clock, settings: Settings, raw_cookie: str | None,
    company_id: uuid.UUID, connection_id: uuid.UUID,
) -> tuple[LinkSession, Connection]:
    """The session for this connection, and the connection (deleted since: 401 as well)."""
    link = decode_session(settings, clock, raw_cookie)
    if link is None or not link.covers(company_id, connection_id):
        raise Unauthorized(_EXPIRED)
    connection = LinkRepository(session).connection(company_id, connection_id)
    if connection is None or not is_live(session, clock, settings, link):
        raise Unauthorized(_EXPIRED)
    return link, connection


def check_csrf(link: LinkSession, token: str | None) -> None:
    csrf.require(link.csrf, token, "The form has expired or did not come from this page; reload it and try again.")


def has_credentials(session: Session, connection: Connection) -> bool:
    return credentials.has_active(session, connection)


def get_credentials(
    session: Session, clock: Clock, settings: Settings, link: LinkSession, connection: Connection, token: str | None
) -> BankAccountCredentials:
    check_csrf(link, token)
    return credentials.generate(session, clock, settings, connection)


def revoke_credentials(session: Session, clock: Clock, settings: Settings, link: LinkSession,
                       connection: Connection, token: str | None) -> LinkSession:
    """Revoke every pair; that ends every session of the connection (anyone else's copy of this
    one too), so the user carries on in a fresh session, returned."""
    check_csrf(link, token)
    credentials.revoke_all(session, clock, connection)
    return new_session(session, clock, settings, link.company_id, link.connection_id)


@dataclass(frozen=True)
class Cancelled:
    # False: the connection was not PendingAuth any more (already linked...), nothing was recorded.
    cancelled: bool
    credentials_revoked: int = 0


def cancel(
    session: Session, clock: Clock, settings: Settings, link: LinkSession, connection: Connection, token: str | None
) -> Cancelled:
    """The SMB gave up linking: ``connection.failed`` with Codat's "User cancelled" error."""
    check_csrf(link, token)
    locked = LinkRepository(session).connection(connection.company_id, connection.id, for_update=True)
    if locked is None:
        raise Unauthorized(_EXPIRED)
    if locked.status != ConnectionStatus.PENDING_AUTH:
        return Cancelled(cancelled=False)
    connections.fail_link(session, clock, settings, locked.company, locked)
    # Credentials got on page 2 must not link the connection later, after it was reported failed,
    # and the session (this cookie and CSRF token, wherever copied) ends with it.
    revoked = credentials.end_all(session, clock, locked)
    session.flush()
    return Cancelled(cancelled=True, credentials_revoked=revoked)
