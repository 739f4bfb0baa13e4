"""Secrets: generated with ``secrets``, stored as keyed hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_ALNUM_UPPER = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits
# Credentials people read off a screen and type by hand: no characters that look alike
# (I l 1 | 0 O o). 16 characters of these 55 still carry over 92 bits.
_LOOK_ALIKES = set("Il1O0o")
UNAMBIGUOUS_UPPER = "".join(c for c in _ALNUM_UPPER if c not in _LOOK_ALIKES)
UNAMBIGUOUS = "".join(c for c in _ALNUM if c not in _LOOK_ALIKES)


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
    username = "-".join(random_string(4, UNAMBIGUOUS_UPPER) for _ in range(3))
    return username, random_string(16, UNAMBIGUOUS)


