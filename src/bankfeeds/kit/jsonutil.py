"""JSON that keeps money exact: numbers parse to Decimal and Decimals render as JSON numbers."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import msgspec
import simplejson

from bankfeeds.errors import BadRequest
from bankfeeds.kit import inputs

# The fast parser (C): non-integer numbers reach float_hook as their exact text.
_FAST = msgspec.json.Decoder(float_hook=Decimal)


def loads(raw: bytes | str) -> Any:
    """Parse JSON with every non-integer number as an exact Decimal, under the input policy
    (``kit/inputs.py``): bounded numbers and nesting, no NUL, lone surrogate or control text.

    msgspec parses first; what it refuses, or gives in a form the policy's fast check does not
    vouch for, is parsed again by the reference parser (simplejson) and checked by the policy's
    full walk, which decide and word the 400 as they always have.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    try:
        fast = _FAST.decode(text)
    except (msgspec.MsgspecError, RecursionError):
        pass
    else:
        if inputs.parsed_fast_within_policy(text, fast):
            return fast
    try:
        value = simplejson.loads(
            text, parse_float=inputs.parse_decimal, parse_int=inputs.parse_int,
            parse_constant=inputs.parse_constant,
        )
    except (simplejson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise inputs.InputRefused(f"The request is nested more than {inputs.MAX_DEPTH} levels deep.") from None
    return inputs.check_json_text(text, value)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# One encoder, made once (``simplejson.dumps`` with options builds one at each call).
_ENCODER = simplejson.JSONEncoder(use_decimal=True, default=_default, separators=(",", ":"))


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def _not_plain(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not plain JSON (dumps_plain)")


# msgspec's encoder (C), made once: a tenth of simplejson's cost for a push's answer.
_PLAIN = msgspec.json.Encoder(enc_hook=_not_plain, decimal_format="number")


def dumps_plain(value: Any) -> bytes:
    """``dumps`` for a value of JSON's own types (str, int, bool, None, Decimal, lists, dicts with
    str keys), as UTF-8: the same JSON, at C speed. Date-times must be given as text
    (``format_datetime``): msgspec would keep another zone's offset where ``dumps`` gives UTC.
    Text outside ASCII is written as itself, not escaped (the same JSON)."""
    return _PLAIN.encode(value)


def format_datetime(value: datetime) -> str:
    """ISO 8601; aware instants in UTC with a trailing Z, local (naive) date-times as given."""
    if value.tzinfo is None:
        return value.isoformat()
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def decimal_text(value: Decimal) -> str:
    """A decimal as plain positional text (no exponent): the IDX API's Money.amount."""
    return format(value, "f")
