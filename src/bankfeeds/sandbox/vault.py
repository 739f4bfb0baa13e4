"""Secrets that must be presented again later (bank credentials, webhook signing secrets).

They cannot be hashed, so they are encrypted (Fernet: AES-128-CBC + HMAC-SHA256) with a key
derived from the server's secret key and a purpose, and never logged.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class VaultError(Exception):
    """A stored secret could not be decrypted (the secret key changed)."""


class Vault:
    def __init__(self, secret_key: str, *, purpose: str) -> None:
        digest = hashlib.sha256(f"bankfeeds-vault:{purpose}:{secret_key}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise VaultError("a stored secret cannot be decrypted; was BANKFEEDS_SECRET_KEY changed?") from None
