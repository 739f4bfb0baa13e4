"""Small strict helpers shared by the parsers."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_PLAIN_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_WHITESPACE = re.compile(r"\s+")


def plain_decimal(text: str) -> Decimal | None:
    """An unsigned decimal written with a dot and no exponent (XML schema style), else None."""
    text = text.strip()
    if not _PLAIN_DECIMAL.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already guarantees a decimal
        return None


def squash(text: str | None) -> str:
    """Whitespace runs (line breaks of wrapped fields included) collapsed to one space."""
    return _WHITESPACE.sub(" ", text or "").strip()


def first(*values: str | None) -> str | None:
    for v in values:
        if v and v.strip():
            return v
    return None


def sign_type(amount: Decimal) -> str:
    return "Credit" if amount >= 0 else "Debit"
