"""One error tree for every surface.

Services raise these; each surface renders them in its own envelope (the public API as
Codat's ``ErrorMessage``, the IDX API likewise with its own service name, pages as HTML).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ValidationItem:
    item_id: str | None
    message: str
    validator_name: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"itemId": self.item_id, "message": self.message, "validatorName": self.validator_name}


@dataclass
class BankfeedsError(Exception):
    message: str
    errors: list[ValidationItem] = field(default_factory=list)
    warnings: list[ValidationItem] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    status_code = 500
    can_be_retried = "Unknown"
    detailed_error_code = 0

    def __str__(self) -> str:
        return self.message


class BadRequest(BankfeedsError):
    status_code = 400


class Unauthorized(BankfeedsError):
    status_code = 401


class Forbidden(BankfeedsError):
    status_code = 403


class NotFound(BankfeedsError):
    status_code = 404


class MethodNotAllowed(BankfeedsError):
    status_code = 405


class Conflict(BankfeedsError):
    status_code = 409


class PayloadTooLarge(BankfeedsError):
    status_code = 413


class Unprocessable(BankfeedsError):
    """Only for a replayed Idempotency-Key whose body differs (Codat's documented 422)."""

    status_code = 422


class BadGateway(BankfeedsError):
    """A system this one calls (the hub's API, a bank) failed or refused; nothing was changed here."""

    status_code = 502


class TooManyRequests(BankfeedsError):
    status_code = 429
    can_be_retried = "True"


class ServiceUnavailable(BankfeedsError):
    status_code = 503
    can_be_retried = "True"
