"""Codat's query language, compiled to SQL.

    query   := or
    or      := and ("||" and)*
    and     := primary ("&&" primary)*
    primary := "{" or "}" | comparison
    comparison := property op value      op: = != ~ > < >= <=
    property   := name ("." name)*

Values run to the next ``&&``, ``||`` or ``}``; surrounding quotes are dropped. Each list
endpoint declares the properties it allows; anything else is a 400, as is bad syntax.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, or_, true

__all__ = ["QueryField", "and_", "compare", "compile_filter", "compile_order", "compile_tag_filter"]

from bankfeeds.errors import BadRequest
from bankfeeds.kit import inputs

MAX_QUERY_LENGTH = 2048
MALFORMED = "Error parsing query - Malformed query."

Kind = Literal["string", "number", "datetime", "uuid", "bool"]
Op = Literal["=", "!=", "~", ">", "<", ">=", "<="]
_OPS: tuple[Op, ...] = (">=", "<=", "!=", "=", "~", ">", "<")


@dataclass(frozen=True)
class QueryField:
    """A queryable property: a column, or a builder for properties that need a join or EXISTS."""

    kind: Kind
    column: Any = None
    build: Callable[[Op, Any], ColumnElement[bool]] | None = None
    sortable: bool = True

    def compare(self, op: Op, value: Any) -> ColumnElement[bool]:
        if self.build is not None:
            return self.build(op, value)
        return compare(self.column, op, value)


def compare(column: Any, op: Op, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]
    if op == "!=":
        return column.is_not(None) if value is None else or_(column != value, column.is_(None))
    if op == "~":
        escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.ilike(f"%{escaped}%", escape="\\")  # type: ignore[no-any-return]
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    if op == "<":
        return column < value  # type: ignore[no-any-return]
    if op == ">=":
        return column >= value  # type: ignore[no-any-return]
    return column <= value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Cmp:
    prop: str
    op: Op
    raw: str


@dataclass(frozen=True)
class _Bool:
    op: Literal["&&", "||"]
    items: tuple[Any, ...]


_TOKEN = re.compile(r"\s*(&&|\|\||\{|\})")


_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# Tag keys are free text (1 to 27 characters) save for the grammar's own symbols.
_TAG_KEY = re.compile(r"[^=!~<>{}&|\s]+")


class _Parser:
    def __init__(self, text: str, property_pattern: re.Pattern[str] = _PROPERTY) -> None:
        self.text = text
        self.pos = 0
        self.property_pattern = property_pattern
        self.depth = 0

    def parse(self) -> Any:
        node = self._or()
        self._skip_ws()
        if self.pos != len(self.text):
            raise BadRequest(MALFORMED)
        return node

    def _skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self, token: str) -> bool:
        self._skip_ws()
        return self.text.startswith(token, self.pos)

    def _or(self) -> Any:
        items = [self._and()]
        while self._peek("||"):
            self.pos += 2
            items.append(self._and())
        return items[0] if len(items) == 1 else _Bool("||", tuple(items))

    def _and(self) -> Any:
        items = [self._primary()]
        while self._peek("&&"):
            self.pos += 2
            items.append(self._primary())
        return items[0] if len(items) == 1 else _Bool("&&", tuple(items))

    def _primary(self) -> Any:
        if self._peek("{"):
            self.pos += 1
            self.depth += 1
            if self.depth > inputs.MAX_DEPTH:
                raise BadRequest(f"Error parsing query - groups are nested more than {inputs.MAX_DEPTH} deep.")
            node = self._or()
            self.depth -= 1
            if not self._peek("}"):
                raise BadRequest(MALFORMED)
            self.pos += 1
            return node
        return self._comparison()

    def _comparison(self) -> _Cmp:
        self._skip_ws()
        m = self.property_pattern.match(self.text, self.pos)
        if not m:
            raise BadRequest(MALFORMED)
        prop = m.group(0)
        self.pos = m.end()
        self._skip_ws()
        op = next((o for o in _OPS if self.text.startswith(o, self.pos)), None)
        if op is None:
            raise BadRequest(MALFORMED)
        self.pos += len(op)
        # The value runs to the next operator of the grammar.
        end = len(self.text)
        for m2 in _TOKEN.finditer(self.text, self.pos):
            if m2.group(1) in ("&&", "||", "}"):
                end = m2.start(1)
                break
            if m2.group(1) == "{":
                raise BadRequest(MALFORMED)
        raw = self.text[self.pos:end].strip()
        self.pos = end
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            raw = raw[1:-1]
        elif raw == "":
            raise BadRequest(MALFORMED)
        return _Cmp(prop, op, raw)


def _coerce(field: QueryField, prop: str, op: Op, raw: str) -> Any:
    if raw.lower() == "null" and op in ("=", "!="):
        return None
    if op == "~" and field.kind != "string":
        raise BadRequest(f"Error parsing query - '~' only applies to text, not to '{prop}'.")
    try:
        if field.kind == "number":
            value = Decimal(raw)
            if not value.is_finite():
                raise InvalidOperation
            return value
        if field.kind == "datetime":
            return parse_query_datetime(raw)
        if field.kind == "uuid":
            return uuid.UUID(raw)
        if field.kind == "bool":
            if raw.lower() not in ("true", "false"):
                raise ValueError
            if op not in ("=", "!="):
                raise BadRequest(f"Error parsing query - '{op}' does not apply to '{prop}'.")
            return raw.lower() == "true"
    except (InvalidOperation, ValueError):
        raise BadRequest(f"Error parsing query - '{raw}' is not a valid {field.kind} for '{prop}'.") from None
    return raw


def parse_query_datetime(raw: str) -> datetime:
    value = raw.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        d = date.fromisoformat(value)
        return inputs.in_range(datetime(d.year, d.month, d.day, tzinfo=UTC), "A date")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    try:
        return inputs.in_range(parsed, "A date")
    except inputs.InputRefused as exc:
        raise ValueError(exc.message) from None


def _lookup(fields: Mapping[str, QueryField], prop: str) -> QueryField:
    for name, field in fields.items():
        if name.lower() == prop.lower():
            return field
    allowed = ", ".join(sorted(fields))
    raise BadRequest(f"Error parsing query - unknown property '{prop}'. Queryable properties: {allowed}.")


def compile_filter(text: str | None, fields: Mapping[str, QueryField]) -> ColumnElement[bool]:
    """The WHERE clause for a Codat query; ``true()`` when there is none."""
    if text is None or not text.strip():
        return true()
    if len(text) > MAX_QUERY_LENGTH:
        raise BadRequest(f"Error parsing query - the query is longer than {MAX_QUERY_LENGTH} characters.")
    return _compile(_Parser(text).parse(), fields)


def _compile(node: Any, fields: Mapping[str, QueryField]) -> ColumnElement[bool]:
    if isinstance(node, _Bool):
        parts = [_compile(item, fields) for item in node.items]
        return and_(*parts) if node.op == "&&" else or_(*parts)
    field = _lookup(fields, node.prop)
    value = _coerce(field, node.prop, node.op, node.raw)
    if value is None and node.op not in ("=", "!="):
        return false()
    return field.compare(node.op, value)


def compile_tag_filter(
    text: str | None, tag: Callable[[str], Any], *, ops: tuple[Op, ...] = ("=", "!=", "~")
) -> ColumnElement[bool]:
    """``tags=region=uk && team=x``: every property is a tag key; ``tag(key)`` gives its column."""
    if text is None or not text.strip():
        return true()
    if len(text) > MAX_QUERY_LENGTH:
        raise BadRequest(f"Error parsing tags - the filter is longer than {MAX_QUERY_LENGTH} characters.")
    return _compile_tags(_Parser(text, _TAG_KEY).parse(), tag, ops)


def _compile_tags(node: Any, tag: Callable[[str], Any], ops: tuple[Op, ...]) -> ColumnElement[bool]:
    if isinstance(node, _Bool):
        parts = [_compile_tags(item, tag, ops) for item in node.items]
        return and_(*parts) if node.op == "&&" else or_(*parts)
    if node.op not in ops:
        raise BadRequest(f"Error parsing tags - '{node.op}' is not supported; use one of {', '.join(ops)}.")
    return compare(tag(node.prop), node.op, node.raw)


def compile_order(
    text: str | None, fields: Mapping[str, QueryField], default: list[Any]
) -> list[Any]:
    """``orderBy=name`` or ``orderBy=-created``; the default order breaks ties."""
    if text is None or not text.strip():
        return default
    raw = text.strip()
    descending = raw.startswith("-")
    prop = raw.lstrip("-").strip()
    field = _lookup(fields, prop)
    if field.column is None or not field.sortable:
        raise BadRequest(f"Error parsing orderBy - '{prop}' cannot be used to order results.")
    return [field.column.desc() if descending else field.column.asc(), *default]
