"""Secrets: generated with ``secrets``, stored as keyed hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_ALNUM_UPPER = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def keyed_hash(secret_key: str, value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of a secret, domain-separated by ``purpose``. What we store, never the value."""
    return hmac.new(secret_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def random_string(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_api_key() -> str:
    return secrets.token_urlsafe(30)


def new_credentials() -> tuple[str, str]:
    """A QuickBooks credential pair in Codat's shape: ``XXXX-XXXX-XXXX`` and 16 characters."""
    username = "-".join(random_string(4, _ALNUM_UPPER) for _ in range(3))
    return username, random_string(16)


def new_otp() -> str:
    return random_string(6, _ALNUM_UPPER)
