"""CSRF tokens for every server-rendered form: made, bound and checked here, compared in constant time.

A form's token is tied to the visitor and cannot be made by another site:

* where the visitor has a session (the link pages' signed cookie, the console's server-side row), the
  session holds a random token (:func:`new_token`) that its forms send back (:func:`require`);
* where there is none (the sandboxes, the demo bank, the landing page), an HttpOnly cookie holds a
  random value and the form the HMAC of it under the secret key (:class:`CookieTokens`): double
  submit that cannot be forged without the key.

Each surface says in its own words what went wrong (:func:`require` raises its message as a 403).
"""

from __future__ import annotations

import hmac
import secrets
from hashlib import sha256

from bankfeeds.errors import Forbidden
from bankfeeds.kit.security import same

# Longer than any token made here: a longer value is refused without comparing it.
MAX_LENGTH = 200
# What a cookie of CookieTokens may hold; anything else is replaced by a fresh value.
_COOKIE_LENGTHS = range(20, 101)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def matches(expected: str | None, sent: object) -> bool:
    """Whether the form sent ``expected`` (missing, empty, not text or over-long: no)."""
    if not expected or not isinstance(sent, str) or not sent or len(sent) > MAX_LENGTH:
        return False
    return same(sent, expected)


def require(expected: str | None, sent: object, message: str) -> None:
    """:func:`matches`, or ``Forbidden(message)``."""
    if not matches(expected, sent):
        raise Forbidden(message)


class CookieTokens:
    """Double submit, signed: a random cookie per browser, and in each form the HMAC of that cookie
    under the secret key (``purpose`` keeps the tokens of two surfaces apart)."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        self._key = f"pages-csrf:{purpose}:{secret_key}".encode()

    def cookie(self, current: str | None) -> tuple[str, bool]:
        """The cookie to keep (``current`` if it is one of ours) and whether it is new (to set)."""
        if current and len(current) in _COOKIE_LENGTHS:
            return current, False
        return new_token(), True

    def token_for(self, cookie: str) -> str:
        return hmac.new(self._key, cookie.encode(), sha256).hexdigest()

    def require(self, cookie: str | None, sent: object, message: str) -> None:
        require(self.token_for(cookie) if cookie else None, sent, message)
