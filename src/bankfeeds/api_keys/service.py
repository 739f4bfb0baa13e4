"""API keys: created once, shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from bankfeeds.api_keys.repository import ApiKeyRepository, KeyRecord
from bankfeeds.errors import NotFound, Unauthorized
from bankfeeds.kit.clock import Clock, utc
from bankfeeds.kit.security import new_api_key, same, sha256_hex
from bankfeeds.models import ApiKey


def create(session: Session, clock: Clock, name: str) -> tuple[ApiKey, str]:
    """Make a key; returns the row and the key itself, which is never stored."""
    raw = new_api_key()
    row = ApiKey(name=name, key_hash=sha256_hex(raw), prefix=raw[:8], created_at=clock.now())
    ApiKeyRepository(session).add(row)
    return row, raw


def list_keys(session: Session) -> list[ApiKey]:
    return ApiKeyRepository(session).list()


def revoke(session: Session, clock: Clock, key_id: uuid.UUID) -> ApiKey:
    row = ApiKeyRepository(session).get(key_id)
    if row is None:
        raise NotFound(f"No API key was found with ID {key_id}")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
    return row


# "Last used" is recorded at most this often per key: a write a minute, not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Caller:
    """The API key a request was authenticated with."""

    id: uuid.UUID
    name: str


def authenticate(session: Session, authorization: str | None, clock: Clock | None = None) -> Caller:
    """Codat's scheme: ``Authorization: Basic <base64(apiKey)>``. With a clock, records the use."""
    key_hash = digest(authorization)
    return accept(session, ApiKeyRepository(session).by_hash(key_hash), key_hash, clock)


def digest(authorization: str | None) -> str:
    """The SHA-256 (hex) of the API key an ``Authorization`` header carries (what is stored)."""
    if not authorization:
        raise Unauthorized("Unauthorized: the Authorization header is missing.")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise Unauthorized("Unauthorized: use 'Authorization: Basic <base64 of your API key>'.")
    try:
        raw = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Unauthorized("Unauthorized: the API key is not valid base64.") from None
    return sha256_hex(raw)


def accept(session: Session, row: KeyRecord | None, key_hash: str, clock: Clock | None = None) -> Caller:
    """The caller whose key ``row`` is (read by ``key_hash``); ``Unauthorized`` if none or revoked.
    With a clock, records the use."""
    # The lookup is by hash; the compare below is constant-time all the same.
    if row is None or not same(row.key_hash, key_hash) or row.revoked_at is not None:
        raise Unauthorized("Unauthorized: the API key is invalid or has been revoked.")
    if clock is not None:
        _record_use(session, row, clock)
    return Caller(row.id, row.name)


def _record_use(session: Session, row: KeyRecord, clock: Clock) -> None:
    now = clock.now()
    if row.last_used_at is not None and now - utc(row.last_used_at) < LAST_USED_RESOLUTION:
        return  # the row was just read: no write at all within the minute
    ApiKeyRepository(session).touch(row.id, now, now - LAST_USED_RESOLUTION)
