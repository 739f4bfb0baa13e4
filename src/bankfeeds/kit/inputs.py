"""One input policy for every surface, applied at two choke points.

* ``check_json`` runs inside ``jsonutil.loads``, the one JSON parser every surface uses: numbers
  bounded in digits and exponent (no ``NaN``/``Infinity``, no 4,301-digit integers), nesting at
  most ``MAX_DEPTH`` deep, and every key and string free of the characters below.
* ``InputPolicy`` is an ASGI middleware in front of every route: the path, each query parameter
  and each form field (``application/x-www-form-urlencoded``) must be valid UTF-8, free of those
  characters, and of bounded length.

Refused everywhere: NUL and the other C0/C1 control characters (tab, line feed and carriage
return are text), lone UTF-16 surrogates (they cannot be stored as UTF-8), and the bidirectional
overrides and isolates (U+202A-U+202E, U+2066-U+2069) that make text display other than it reads.
Instants are accepted between ``MIN_INSTANT`` and ``MAX_INSTANT`` (a date at the edge of the
calendar overflows on a time-zone conversion).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from bankfeeds.errors import BadRequest, BankfeedsError, NotFound, ValidationItem
from bankfeeds.kit.http import read_body, replaying

MAX_DEPTH = 32
# No text field of any surface needs more (each field has its own, smaller limit on top).
MAX_STRING_CHARS = 65536
# A JSON number: at most this many characters, and a decimal exponent within +-MAX_EXPONENT.
MAX_NUMBER_CHARS = 64
MAX_EXPONENT = 64
MAX_PATH_CHARS = 2048
MAX_QUERY_VALUE_CHARS = 4096
MAX_QUERY_BYTES = 16384
MIN_INSTANT = datetime(1000, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(9000, 12, 31, tzinfo=UTC)

FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMES = {"\x00": "a NUL character"}


class InputRefused(BadRequest):
    """The request breaks the input policy; rendered as a 400 in the surface's envelope."""


class AddressRefused(NotFound):
    """An address (path) the policy refuses names no resource: 404, as a malformed id does."""


def forbidden_character(value: str) -> str | None:
    """A plain description of the first character the policy refuses in ``value``, or None."""
    m = FORBIDDEN.search(value)
    if m is None:
        return None
    char = m.group(0)
    return _NAMES.get(char, f"the character U+{ord(char):04X}")


def check_text(value: str, where: str) -> str:
    """``value`` unless it holds a refused character (then a 400 naming ``where``)."""
    bad = forbidden_character(value)
    if bad is not None:
        raise InputRefused(f"{where} contains {bad}, which is not accepted.")
    return value


def text_validator(value: Any) -> Any:
    """For pydantic ``AfterValidator``: the same rule on a wire field (raises ValueError)."""
    if isinstance(value, str):
        bad = forbidden_character(value)
        if bad is not None:
            raise ValueError(f"contains {bad}, which is not accepted")
    return value


# ------------------------------------------------------------------------------------ numbers


def parse_int(text: str) -> int | Decimal:
    # A longer integer stays a Decimal here (int() refuses 4,301 digits) and check_json names it.
    return int(text) if len(text) <= MAX_NUMBER_CHARS else Decimal(text)


def parse_decimal(text: str) -> Decimal:
    return Decimal(text)


def parse_constant(text: str) -> Any:
    raise InputRefused(f"{text} is not a number JSON accepts.")


def _number_ok(value: int | Decimal) -> bool:
    if isinstance(value, int):
        return True
    if not value.is_finite():
        return False
    digits = len(value.as_tuple().digits)
    return digits <= MAX_NUMBER_CHARS and (not value or abs(value.adjusted()) <= MAX_EXPONENT)


# ------------------------------------------------------------------------------------ JSON


def _where(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path) or "the request body"


def check_json(value: Any) -> Any:
    """Walk a parsed JSON document (iteratively): depth, numbers, keys and strings under the policy.

    A first walk carries no paths (a 1000-transaction body has ~10,000 values); only a document
    it finds at fault is walked again, with paths, to name the offending place.
    """
    if not _breaks_policy(value):
        return value
    return _check_json_naming(value)


def check_json_text(text: str, value: Any) -> Any:
    """``check_json`` for ``value`` parsed from ``text``, its JSON source.

    Text with no backslash has no escapes: every key and string is a slice of it, so one search
    of the whole text settles their characters, and none is longer than the text. Otherwise, or
    if the search finds a refused character, the full walk decides (and names the place).
    """
    if "\\" in text or FORBIDDEN.search(text) is not None or len(text) > MAX_STRING_CHARS:
        return check_json(value)
    if not _breaks_policy(value, strings_checked=True):
        return value
    return _check_json_naming(value)


def parsed_fast_within_policy(text: str, value: Any) -> bool:
    """Whether ``value``, parsed from ``text`` by the fast parser (``jsonutil``), is exactly what
    the reference parser would give and passes the policy. Stricter than the policy: anything
    else goes to the reference parser and ``check_json``, which decide (and name the fault)."""
    strings_checked = "\\" not in text and FORBIDDEN.search(text) is None and len(text) <= MAX_STRING_CHARS
    return not _breaks_policy(value, strings_checked=strings_checked, reference_ints=True)


# The reference parser keeps integers of at most MAX_NUMBER_CHARS characters as int.
_INT_BELOW = 10**MAX_NUMBER_CHARS
_INT_ABOVE = -(10 ** (MAX_NUMBER_CHARS - 1))


def _breaks_policy(value: Any, *, strings_checked: bool = False, reference_ints: bool = False) -> bool:
    """True if ``value`` may break the policy (then the naming walk decides). Recursive, but never
    deeper than MAX_DEPTH + 1 calls: a container at that depth is a fault."""
    search = FORBIDDEN.search

    def scalar_breaks(item: Any) -> bool:
        kind = type(item)
        if kind is str:
            return not strings_checked and (len(item) > MAX_STRING_CHARS or search(item) is not None)
        if kind is Decimal:
            return not _number_ok(item)
        if kind is int:
            return reference_ints and not _INT_ABOVE < item < _INT_BELOW
        return kind is not bool and item is not None  # anything else: the naming walk decides

    def container_breaks(item: Any, depth: int) -> bool:
        if depth >= MAX_DEPTH:
            return True
        if type(item) is dict:
            if not strings_checked:
                for key in item:
                    if type(key) is not str or search(key) is not None:
                        return True
            values = item.values()
        else:
            values = item
        for sub in values:
            kind = type(sub)
            if kind is dict or kind is list:
                if container_breaks(sub, depth + 1):
                    return True
            elif (kind is not str or not strings_checked) and scalar_breaks(sub):
                return True
        return False

    kind = type(value)
    if kind is dict or kind is list:
        return container_breaks(value, 0)
    return scalar_breaks(value)


def _check_json_naming(value: Any) -> Any:
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if len(item) > MAX_STRING_CHARS:
                raise InputRefused(f"{_where(path)} is longer than {MAX_STRING_CHARS} characters.")
            check_text(item, _where(path))
        elif isinstance(item, Decimal) and not _number_ok(item):
            raise InputRefused(
                f"{_where(path)}: the number is out of range (at most {MAX_NUMBER_CHARS} digits and "
                f"an exponent within {MAX_EXPONENT}).",
                errors=[ValidationItem(_where(path), "number out of range", "number")],
            )
        elif isinstance(item, dict | list):
            if len(path) >= MAX_DEPTH:
                raise InputRefused(f"The request is nested more than {MAX_DEPTH} levels deep.")
            if isinstance(item, dict):
                for key, sub in item.items():
                    check_text(key, f"A property name in {_where(path)}")
                    stack.append((sub, (*path, key)))
            else:
                stack.extend((sub, (*path, i)) for i, sub in enumerate(item))
    return value


# ------------------------------------------------------------------------------------ instants


def in_range(value: datetime, where: str) -> datetime:
    """An aware instant within the accepted range, in UTC (a 400 otherwise)."""
    try:
        utc_value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        utc_value = None
    if utc_value is None or not MIN_INSTANT <= utc_value <= MAX_INSTANT:
        raise InputRefused(
            f"{where} must be between {MIN_INSTANT.date().isoformat()} and {MAX_INSTANT.date().isoformat()}."
        )
    return utc_value


def date_in_range(value: date, where: str) -> date:
    if not MIN_INSTANT.date() <= value <= MAX_INSTANT.date():
        raise InputRefused(
            f"{where} must be between {MIN_INSTANT.date().isoformat()} and {MAX_INSTANT.date().isoformat()}."
        )
    return value


def instant_validator(value: Any) -> Any:
    """For pydantic ``AfterValidator`` on datetime fields: the same range (raises ValueError)."""
    if isinstance(value, datetime):
        try:
            in_range(value, "the date")
        except InputRefused as exc:
            raise ValueError(exc.message) from None
    return value


# ------------------------------------------------------------------------------------ the gate


def _check_pairs(raw: bytes, what: str) -> None:
    """``a=b&c=d`` (query string or form body): each name and value percent-decoded as UTF-8."""
    for pair in raw.split(b"&"):
        if not pair:
            continue
        for part in pair.split(b"=", 1):
            try:
                text = unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                raise InputRefused(f"The {what} is not valid UTF-8.") from None
            if len(text) > MAX_QUERY_VALUE_CHARS:
                raise InputRefused(f"A {what} parameter is longer than {MAX_QUERY_VALUE_CHARS} characters.")
            check_text(text, f"The {what}")


def check_scope(scope: Scope) -> None:
    path = scope.get("path", "")
    raw_path = scope.get("raw_path") or path.encode("utf-8", "surrogatepass")
    try:
        decoded = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        decoded = "\x00"
    if len(decoded) > MAX_PATH_CHARS or forbidden_character(decoded) is not None:
        raise AddressRefused(f"No resource was found at {path.encode('ascii', 'backslashreplace').decode()[:200]}")
    query = scope.get("query_string", b"")
    if len(query) > MAX_QUERY_BYTES:
        raise InputRefused(f"The query string is longer than {MAX_QUERY_BYTES} bytes.")
    _check_pairs(query, "query string")


def _is_form(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower() == b"application/x-www-form-urlencoded"
    return False


class InputPolicy:
    """Refuses, in the surface's envelope, a request whose address, query or form breaks the policy."""

    def __init__(self, app: ASGIApp, render: Callable[[Request, BankfeedsError], Any]) -> None:
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_scope(scope)
        except (InputRefused, AddressRefused) as exc:
            await self._refuse(scope, receive, send, exc)
            return
        if scope["method"] in ("POST", "PUT", "PATCH") and _is_form(scope):
            body = await read_body(receive)
            if body is None:
                return
            try:
                _check_pairs(body, "form")
            except InputRefused as exc:
                await self._refuse(scope, receive, send, exc)
                return
            receive = replaying(body, receive)
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: BankfeedsError) -> None:
        response = self.render(Request(scope), exc)
        await response(scope, receive, send)
