"""Each surface (public API, IDX, pages) renders the one error tree in its own envelope.

A surface registers a path prefix and a renderer; the longest matching prefix wins and the
public API's Codat envelope is the default.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from bankfeeds.errors import BankfeedsError
from bankfeeds.kit.http import JSONResponse
from bankfeeds.kit.wire import WireModel

Renderer = Callable[[Request, BankfeedsError], Response]

# Where each surface lives, mounted or not (the sandboxes and the demo bank only in demo mode);
# the public API is every other path.
LINK = "/link"
CONSOLE = "/console"
PARTNERS = "/partners"  # what accounting platforms call (IDX below)
IDX = f"{PARTNERS}/intuit/idx"
SANDBOX = "/sandbox"
DEMO = "/demo"
# Paths of no surface that are no part of the public API either: probes, the API's own documents.
SERVICE_PATHS = ("/healthz", "/readyz", "/docs", "/openapi.json", "/static")
NOT_PUBLIC_API = (LINK, CONSOLE, PARTNERS, SANDBOX, DEMO, *SERVICE_PATHS)


def under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it."""
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def correlation_id(request: Request) -> str:
    cid = getattr(request.state, "correlation_id", None)
    if cid is None:
        cid = uuid.uuid4().hex
        request.state.correlation_id = cid
    return str(cid)


class ErrorValidationItem(WireModel):
    item_id: str | None
    message: str | None
    validator_name: str | None


class ErrorValidation(WireModel):
    errors: list[ErrorValidationItem] | None
    warnings: list[ErrorValidationItem] | None


class ErrorMessage(WireModel):
    """Codat's ``ErrorMessage``: the schema :func:`codat_envelope` answers (for the OpenAPI document)."""

    status_code: int
    service: str
    error: str
    correlation_id: str
    validation: ErrorValidation | None
    can_be_retried: str
    detailed_error_code: int


def codat_envelope(request: Request, exc: BankfeedsError, *, service: str) -> Response:
    validation = None
    if exc.errors or exc.warnings:
        validation = {
            "errors": [i.to_wire() for i in exc.errors],
            "warnings": [i.to_wire() for i in exc.warnings],
        }
    body = {
        "statusCode": exc.status_code,
        "service": service,
        "error": exc.message,
        "correlationId": correlation_id(request),
        "validation": validation,
        "canBeRetried": exc.can_be_retried,
        "detailedErrorCode": exc.detailed_error_code,
    }
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def public_api_renderer(request: Request, exc: BankfeedsError) -> Response:
    return codat_envelope(request, exc, service="PublicApi")


@dataclass
class SurfaceRegistry:
    default: Renderer = public_api_renderer

    def __post_init__(self) -> None:
        self._prefixes: list[tuple[str, Renderer]] = []

    def register(self, prefix: str, renderer: Renderer) -> None:
        self._prefixes.append((prefix, renderer))
        self._prefixes.sort(key=lambda item: len(item[0]), reverse=True)

    def prefix_for(self, path: str) -> str | None:
        """The registered surface prefix that owns ``path``; None for the default (public API)."""
        for prefix, _ in self._prefixes:
            if under(path, prefix):
                return prefix
        return None

    def is_public_api(self, path: str) -> bool:
        """Whether ``path`` belongs to the public API: no surface's, whether mounted or not."""
        return not any(under(path, prefix) for prefix in NOT_PUBLIC_API) and self.prefix_for(path) is None

    def render(self, request: Request, exc: BankfeedsError) -> Response:
        path = request.url.path
        for prefix, renderer in self._prefixes:
            if under(path, prefix):
                return renderer(request, exc)
        return self.default(request, exc)
