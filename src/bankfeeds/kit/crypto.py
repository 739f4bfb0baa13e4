"""Every stored secret that must be read back (OAuth tokens, ...) is encrypted here, one way.

``MultiFernet`` (AES-128-CBC + HMAC-SHA256 per token) with keys derived by HKDF-SHA256 from
``BANKFEEDS_SECRET_KEY`` and, during a rotation, ``BANKFEEDS_SECRET_KEY_PREVIOUS``: new tokens
are encrypted with the current key, tokens made with either key decrypt. ``purpose`` goes into
the derivation, so a token stored for one purpose never decrypts as another.
Rotation: set the new key, move the old one to ``..._PREVIOUS``, re-encrypt at leisure
(:func:`rotate`), then drop ``..._PREVIOUS``.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bankfeeds.config import Settings

_SALT = b"bankfeeds.kit.crypto.v1"


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with the configured keys (was the secret key changed?)."""


def _derive(secret: str, purpose: str) -> Fernet:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret.encode("utf-8"))))


@lru_cache(maxsize=64)
def _fernet(current: str, previous: str | None, purpose: str) -> MultiFernet:
    keys = [_derive(current, purpose)]
    if previous and previous != current:
        keys.append(_derive(previous, purpose))
    return MultiFernet(keys)


def _for(settings: Settings, purpose: str) -> MultiFernet:
    if not purpose:
        raise ValueError("a purpose is required")
    return _fernet(settings.secret_key, settings.secret_key_previous, purpose)


def encrypt(settings: Settings, plaintext: str, *, purpose: str) -> str:
    return _for(settings, purpose).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(settings: Settings, token: str, *, purpose: str) -> str:
    try:
        return _for(settings, purpose).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError, UnicodeError):
        raise DecryptionError(
            f"a stored secret ({purpose}) cannot be decrypted; was BANKFEEDS_SECRET_KEY changed "
            "without keeping the old one in BANKFEEDS_SECRET_KEY_PREVIOUS?"
        ) from None


def rotate(settings: Settings, token: str, *, purpose: str) -> str:
    """The token re-encrypted with the current key (it may have been made with the previous one)."""
    try:
        return _for(settings, purpose).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        raise DecryptionError(f"a stored secret ({purpose}) cannot be decrypted") from None
