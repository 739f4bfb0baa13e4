"""create_app(): every surface, the middleware, the error handlers and the lifespan."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from bankfeeds import errors
from bankfeeds.config import Settings, get_settings
from bankfeeds.idempotency.middleware import IdempotencyMiddleware
from bankfeeds.kit.clock import Clock, OffsetClock, SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.kit.http import BodySizeLimit
from bankfeeds.kit.surfaces import SurfaceRegistry
from bankfeeds.observability.middleware import ObservabilityMiddleware

log = logging.getLogger("bankfeeds")


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    database: Database | None = None,
    run_worker: bool | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    # Demo mode runs on a clock the sandbox and the demo bank can move forward.
    clock = clock or (OffsetClock() if settings.demo else SystemClock())
    database = database or Database(settings.database_url)
    start_worker = settings.run_worker if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if start_worker:
            from bankfeeds.worker.runner import Worker

            worker = Worker(database, settings, clock)
            worker.start_in_thread()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="bankfeeds",
        version="1.0",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.database = database
    surfaces = SurfaceRegistry()
    app.state.surfaces = surfaces

    _install_error_handlers(app, surfaces)
    _mount_surfaces(app, surfaces)
    app.add_middleware(IdempotencyMiddleware, database=database, settings=settings, clock=clock,
                       surfaces=surfaces)
    app.add_middleware(_BodyLimitMiddleware, max_bytes=settings.max_body_bytes, surfaces=surfaces)
    # Outermost: the correlation id, the request's log line and the HTTP metrics see every answer.
    app.add_middleware(ObservabilityMiddleware, surfaces=surfaces)
    return app


def _mount_surfaces(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    from sqlalchemy import text

    from bankfeeds import public_api

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness and database reachability, for load balancers and tests."""
        with app.state.database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    public_api.mount(app)
    # Each further surface renders errors in its own envelope and registers its prefix.
    for module_name in ("bankfeeds.idx.endpoints", "bankfeeds.link.endpoints",
                        "bankfeeds.sandbox.endpoints", "bankfeeds.xero_sandbox.endpoints",
                        "bankfeeds.demo.endpoints", "bankfeeds.observability.endpoints",
                        "bankfeeds.console.endpoints"):
        importlib.import_module(module_name).mount(app, surfaces)


def _install_error_handlers(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.BankfeedsError)
        return surfaces.render(request, exc)

    async def request_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if any(tuple(err.get("loc", ()))[:1] == ("path",) for err in exc.errors()):
            # A malformed id names no resource: 404, as every operation documents (400 is not).
            return surfaces.render(request, errors.NotFound(f"No resource was found at {request.url.path}"))
        items = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            items.append(errors.ValidationItem(item_id=loc, message=str(err.get("msg")),
                                               validator_name=str(err.get("type"))))
        summary = "; ".join(f"{i.item_id}: {i.message}" for i in items[:5])
        return surfaces.render(request, errors.BadRequest(f"The request is invalid: {summary}", errors=items))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        err: errors.BankfeedsError
        if exc.status_code == 404:
            err = errors.NotFound(f"No resource was found at {request.url.path}")
        elif exc.status_code == 405:
            allowed = _allowed_methods(app, request.scope)
            err = errors.MethodNotAllowed(
                f"{request.method} is not allowed on {request.url.path}",
                headers={"Allow": ", ".join(allowed)},
            )
        else:
            err = errors.BankfeedsError(str(exc.detail))
            err.status_code = exc.status_code
        return surfaces.render(request, err)

    async def integrity_error(request: Request, exc: Exception) -> Response:
        log.info("integrity conflict on %s %s", request.method, request.url.path)
        return surfaces.render(request, errors.Conflict(
            "The request conflicts with a concurrent change to the same resource; retry it."))

    async def operational_error(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s", type(exc).__name__)
        return surfaces.render(request, errors.ServiceUnavailable(
            "The database is busy or unavailable; retry shortly."))

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return surfaces.render(request, errors.BankfeedsError("An unexpected error occurred."))

    app.add_exception_handler(errors.BankfeedsError, domain_error)
    app.add_exception_handler(RequestValidationError, request_validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(OperationalError, operational_error)
    app.add_exception_handler(Exception, unexpected)


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """The methods of the resource at this path, as the OpenAPI document names it.

    Where a literal segment and a parameter both match (``.../bankFeedAccounts/batch`` and
    ``.../bankFeedAccounts/{accountId}``), the resource is the literal one: the templates with
    the fewest parameters win. Paths outside the document fall back to the router.
    """
    path = scope["path"]
    matches: list[tuple[int, set[str]]] = []
    for template, item in app.openapi().get("paths", {}).items():
        regex, _, convertors = compile_path(template)
        if regex.match(path):
            matches.append((len(convertors), {m.upper() for m in item if m.upper() in _METHODS}))
    if matches:
        fewest = min(n for n, _ in matches)
        return sorted(set().union(*(methods for n, methods in matches if n == fewest)))
    allowed: set[str] = set()
    for method in _METHODS:
        for route in app.router.routes:
            match, _ = route.matches({**scope, "method": method})
            if match == Match.FULL:
                allowed.add(method)
                break
    return sorted(allowed)


class _BodyLimitMiddleware:
    """413 in the surface's envelope for a declared oversize body; BodySizeLimit does the rest."""

    def __init__(self, app: ASGIApp, max_bytes: int, surfaces: SurfaceRegistry) -> None:
        self.inner = BodySizeLimit(app, max_bytes)
        self.surfaces = surfaces
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.inner(scope, receive, send)
        except errors.PayloadTooLarge as exc:
            response = self.surfaces.render(Request(scope), exc)
            await response(scope, receive, send)


def asgi_app() -> Any:
    """Factory for `uvicorn --factory bankfeeds.app:asgi_app`: logs configured, then the app."""
    from bankfeeds.kit import logging as structured

    settings = get_settings()
    structured.configure(settings.log_format or ("text" if settings.environment == "development" else "json"))
    return create_app(settings)
