"""The one-time password of a linkUrl: signed, so handing one out writes nothing.

An OTP is 32 base32 characters (A-Z, 2-7) encoding 20 bytes: its expiry (5 bytes, Unix seconds),
a random nonce (5 bytes, so every read of a connection gives a different link) and a MAC
(10 bytes): HMAC-SHA256, under ``BANKFEEDS_SECRET_KEY``, of the connection's id, the expiry and
the nonce, domain-separated by purpose. ``verify`` checks the MAC in constant time and the
expiry; the link pages then record the redemption (``link_otp_redemptions``, keyed by the
password's SHA-256), whose primary key makes each password single-use. After a key rotation,
passwords signed with ``BANKFEEDS_SECRET_KEY_PREVIOUS`` keep working until they expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from bankfeeds.config import Settings

_PURPOSE = b"link-otp-v2:"
_EXPIRY_BYTES = 5
_NONCE_BYTES = 5
_MAC_BYTES = 10
LENGTH = 32  # base32 characters of the 20 bytes, no padding


def _mac(secret_key: str, connection_id: uuid.UUID, signed: bytes) -> bytes:
    message = _PURPOSE + connection_id.bytes + signed
    return hmac.new(secret_key.encode(), message, hashlib.sha256).digest()[:_MAC_BYTES]


def mint(settings: Settings, connection_id: uuid.UUID, now: datetime) -> str:
    """A fresh password for the connection's linkUrl, valid ``link_otp_ttl_minutes``."""
    expiry = int((now + timedelta(minutes=settings.link_otp_ttl_minutes)).timestamp())
    signed = expiry.to_bytes(_EXPIRY_BYTES, "big") + secrets.token_bytes(_NONCE_BYTES)
    return base64.b32encode(signed + _mac(settings.secret_key, connection_id, signed)).decode()


def verify(settings: Settings, connection_id: uuid.UUID, otp: str, now: datetime) -> datetime | None:
    """When ``otp`` (as minted, upper case) expires, if it was signed for this connection and has
    not expired yet; otherwise None. Whether it was redeemed already is the caller's to check."""
    if len(otp) != LENGTH:
        return None
    try:
        raw = base64.b32decode(otp)
    except ValueError:
        return None
    signed, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    keys = [settings.secret_key, *([settings.secret_key_previous] if settings.secret_key_previous else [])]
    if not any(hmac.compare_digest(mac, _mac(key, connection_id, signed)) for key in keys):
        return None
    expires = datetime.fromtimestamp(int.from_bytes(signed[:_EXPIRY_BYTES], "big"), UTC)
    return expires if expires > now else None


def redemption_key(otp: str) -> str:
    """What a redemption is stored under: the password's SHA-256 (the same under any key)."""
    return hashlib.sha256(otp.encode()).hexdigest()
