"""Credentials: minted on request, shown once, stored as keyed hashes, revoked all at once.

Each ``generate`` makes a new pair and leaves older pairs valid (Codat's rule); ``revoke_all``
ends every pair of the connection at once, so the IDX API refuses them from the next call.
Only platforms that link with credentials (QuickBooks Online, ``hcws``) have them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.connections.service import platform_of
from bankfeeds.credentials.repository import CredentialRepository
from bankfeeds.credentials.schemas import BankAccountCredentials
from bankfeeds.errors import BadRequest
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.security import keyed_hash, new_credentials, same
from bankfeeds.link.repository import LinkRepository
from bankfeeds.models import Connection, Credential

_USERNAME = "idx-username"
_PASSWORD = "idx-password"


def normalise_username(username: str) -> str:
    """Usernames are upper-case ``XXXX-XXXX-XXXX``; what people type may differ in case or spaces."""
    return username.strip().upper()


def username_hash(settings: Settings, username: str) -> str:
    return keyed_hash(settings.secret_key, normalise_username(username), purpose=_USERNAME)


def password_hash(settings: Settings, password: str) -> str:
    return keyed_hash(settings.secret_key, password, purpose=_PASSWORD)


def _require_credentials_platform(connection: Connection) -> None:
    platform = platform_of(connection)
    if not platform.uses_credentials:
        raise BadRequest(
            f"Credentials are only used by QuickBooks Online Bank Feeds (hcws); "
            f"connection {connection.id} is {platform.name} ({platform.key})."
        )


def generate(session: Session, clock: Clock, settings: Settings, connection: Connection) -> BankAccountCredentials:
    """A new pair for the connection; the only time the password exists in clear."""
    _require_credentials_platform(connection)
    username, password = new_credentials()
    CredentialRepository(session).add(
        Credential(
            connection_id=connection.id,
            username_hash=username_hash(settings, username),
            password_hash=password_hash(settings, password),
            created_at=clock.now(),
        )
    )
    return BankAccountCredentials(username=username, password=password)


def revoke_all(session: Session, clock: Clock, connection: Connection) -> int:
    """Revoke every pair of the connection; returns how many were still valid. Every hosted link
    session of the connection ends too (issue 9: Revoke ends them)."""
    _require_credentials_platform(connection)
    LinkRepository(session).end_sessions(connection.id, clock.now())
    return CredentialRepository(session).revoke_all(connection.id, clock.now())


def end_all(session: Session, clock: Clock, connection: Connection) -> int:
    """Revoke whatever pairs the connection has, whatever its platform (none: 0), and end its
    hosted link sessions."""
    LinkRepository(session).end_sessions(connection.id, clock.now())
    return CredentialRepository(session).revoke_all(connection.id, clock.now())


def has_active(session: Session, connection: Connection) -> bool:
    return CredentialRepository(session).count_active(connection.id) > 0


# Compared against when the username is unknown, so both paths hash and compare once.
_NO_SUCH_PASSWORD = "0" * 64


def verify(session: Session, settings: Settings, username: str, password: str) -> Credential | None:
    """The valid (unrevoked) credential for the pair, or None; one lookup and one compare either way."""
    row = CredentialRepository(session).by_username_hash(username_hash(settings, username))
    expected = row.password_hash if row is not None else _NO_SUCH_PASSWORD
    matches = same(password_hash(settings, password), expected)
    if row is None or not matches or row.revoked_at is not None:
        return None
    return row
