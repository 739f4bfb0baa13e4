"""Signing secrets and signatures, in the Standard Webhooks / Svix scheme.

A secret is ``whsec_`` + base64 of 24 random bytes. It is stored encrypted with Fernet
(AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key derived from
``settings.secret_key`` with HKDF-SHA256: signing needs the secret itself, so it cannot be
hashed. Changing ``BANKFEEDS_SECRET_KEY`` makes stored secrets unreadable (rotate them then).
Secrets are never logged.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def new_message_id() -> str:
    """``msg_`` and 22 base62 characters, like Svix's message ids."""
    n = secrets.randbits(128)
    chars = []
    for _ in range(22):
        n, r = divmod(n, 62)
        chars.append(_ALPHABET[r])
    return "msg_" + "".join(chars)


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"bankfeeds", info=b"webhook signing secrets"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret_key: str, secret: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def decrypt(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise RuntimeError(
            "a webhook signing secret cannot be decrypted: was BANKFEEDS_SECRET_KEY changed? "
            "Rotate the consumer's secret."
        ) from None


def signature(msg_id: str, timestamp: datetime, body: str, signing_secrets: list[str]) -> str:
    """The ``webhook-signature`` header: one ``v1,<base64>`` per secret, space separated."""
    return signature_with([Webhook(s) for s in signing_secrets], msg_id, timestamp, body)


def signature_with(signers: Sequence[Webhook], msg_id: str, timestamp: datetime, body: str) -> str:
    """The same header from signers made once per secret (its base64 decoded once)."""
    return " ".join(w.sign(msg_id, timestamp, body) for w in signers)
