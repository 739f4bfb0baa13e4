"""Structured logs: one JSON object per line in production, readable text in development.

The request (or job) being served is carried in context variables, so every line written while
it runs names its ``correlationId`` (Codat's, the one error envelopes show) and the company and
connection it concerns, without passing them around. ``fields`` of a line are scrubbed: a key
that names a secret (password, token, secret, key, otp, authorization, credential) is never
written, whatever its value.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

_correlation: ContextVar[str | None] = ContextVar("bankfeeds_correlation_id", default=None)
_bound: ContextVar[dict[str, Any] | None] = ContextVar("bankfeeds_log_fields", default=None)

_SECRET_KEY = re.compile(r"pass|secret|token|otp|authori[sz]ation|credential|api_?key|cookie|csrf", re.IGNORECASE)
# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "taskName"}
_HANDLER_NAME = "bankfeeds-structured"


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def correlation_id() -> str | None:
    return _correlation.get()


def bound() -> dict[str, Any]:
    return dict(_bound.get() or {})


def bind(**fields: Any) -> None:
    """Add fields (``company_id``, ``connection_id``...) to every line of the current context."""
    current = dict(_bound.get() or {})
    current.update({k: str(v) for k, v in fields.items() if v is not None})
    _bound.set(current)


@contextmanager
def context(correlation: str | None = None, **fields: Any) -> Iterator[str]:
    """Run a block as one unit of work (a request, a job) with its own correlation id."""
    cid = correlation or new_correlation_id()
    token = _correlation.set(cid)
    bound_token = _bound.set({k: str(v) for k, v in fields.items() if v is not None})
    try:
        yield cid
    finally:
        _bound.reset(bound_token)
        _correlation.reset(token)


def scrub(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: ("[redacted]" if _names_a_secret(k) else v) for k, v in fields.items()}


@functools.lru_cache(maxsize=1024)
def _names_a_secret(key: str) -> bool:
    """Whether a field's name names a secret (a few names recur on every line: asked once each)."""
    return _SECRET_KEY.search(key) is not None


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cid = getattr(record, "correlation_id", None) or _correlation.get()
    if cid:
        out["correlationId"] = cid
    out.update(_bound.get() or {})
    for key, value in vars(record).items():
        if key not in _STANDARD and key != "correlation_id" and not key.startswith("_") and value is not None:
            out[key] = value
    return scrub(out)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        text = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extra:
            text += f"  [{extra}]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure(fmt: str = "json", *, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send ``bankfeeds`` logs to ``stream`` (stderr) as JSON lines or text; safe to call again."""
    logger = logging.getLogger("bankfeeds")
    for handler in list(logger.handlers):
        if handler.get_name() == _HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
