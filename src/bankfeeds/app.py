"""create_app(): every surface, the middleware, the error handlers and the lifespan."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bankfeeds import errors
from bankfeeds.bank_transactions import endpoints as bank_transactions
from bankfeeds.config import Settings, get_settings
from bankfeeds.idempotency.middleware import IdempotencyMiddleware
from bankfeeds.kit import hot_routes, migrate, openapi
from bankfeeds.kit.clock import Clock, SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.kit.http import BodySizeLimit
from bankfeeds.kit.inputs import InputPolicy
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
    database = database or Database(settings.database_url)
    if clock is None and settings.demo:
        from bankfeeds.demo.clock import persistent_clock  # its table exists in demo mode only

        clock = persistent_clock(database)
    elif clock is None:
        clock = SystemClock()
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
            await database.dispose_async()  # its connections belong to this event loop

    app = FastAPI(
        title="bankfeeds",
        version="1.0",
        docs_url=None,  # served by bankfeeds.landing from the package's own files (works offline)
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
    # The busiest operation's common case skips FastAPI's routing and dependency solving.
    hot_routes.install(app, bank_transactions.HOT_ROUTES)
    openapi.install(app)  # no FastAPI default 422s: validation errors are each surface's 400 or 404
    # Outermost last: guard -> HEAD as GET -> body limit -> input policy -> idempotency -> routes.
    app.add_middleware(IdempotencyMiddleware, database=database, settings=settings, clock=clock,
                       surfaces=surfaces)
    app.add_middleware(InputPolicy, render=surfaces.render)
    app.add_middleware(_BodyLimitMiddleware, max_bytes=settings.max_body_bytes, surfaces=surfaces)
    app.add_middleware(_SecurityHeaders)
    app.add_middleware(_HeadAsGet)
    app.add_middleware(_ErrorGuard, surfaces=surfaces)
    if settings.forwarded_allow_ips.strip():
        # Only these proxies may say who the client is (throttling counts per address).
        trusted = [h.strip() for h in settings.forwarded_allow_ips.split(",") if h.strip()]
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    # Outermost: the correlation id, the request's log line and the HTTP metrics see every answer.
    app.add_middleware(ObservabilityMiddleware, surfaces=surfaces)
    return app


def _mount_surfaces(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    from sqlalchemy import text

    from bankfeeds import public_api

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness: the process answers. No database: a database outage must not restart every pod."""
        return {"status": "ok"}

    # Endpoints read the app through the request, never from a closure: FastAPI keeps each endpoint
    # function in a module-level cache, which would keep every app ever made alive (tests make one
    # per test; the heap grew until the garbage collector's full passes took seconds).
    @app.get("/readyz", include_in_schema=False, response_model=None)
    def readyz(request: Request) -> dict[str, str] | Response:
        """Readiness: the database answers and its schema is at this release's head; else 503."""
        state = request.app.state
        surfaces: SurfaceRegistry = state.surfaces
        try:
            with state.database.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                found = migrate.status_of(conn, demo=state.settings.demo)
        except (DBAPIError, OSError) as exc:
            log.warning("not ready: database unreachable (%s)", type(exc).__name__)
            return surfaces.render(request, errors.ServiceUnavailable("Not ready: the database is unreachable."))
        if not found.at_head:
            return surfaces.render(request, errors.ServiceUnavailable(
                f"Not ready: {found.describe()}; run `bankfeeds db upgrade`."))
        return {"status": "ok"}

    public_api.mount(app)
    # Each further surface renders errors in its own envelope and registers its prefix.
    for module_name in ("bankfeeds.idx.endpoints", "bankfeeds.link.endpoints",
                        "bankfeeds.sandbox.endpoints", "bankfeeds.xero_sandbox.endpoints",
                        "bankfeeds.demo.endpoints", "bankfeeds.landing.endpoints",
                        "bankfeeds.observability.endpoints", "bankfeeds.console.endpoints"):
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

    async def data_error(request: Request, exc: Exception) -> Response:
        # A value the database cannot hold (the input policy should have refused it first).
        log.info("database refused a value on %s %s", request.method, request.url.path)
        return surfaces.render(request, errors.BadRequest("The request holds a value that cannot be stored."))

    app.add_exception_handler(errors.BankfeedsError, domain_error)
    app.add_exception_handler(RequestValidationError, request_validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(OperationalError, operational_error)
    app.add_exception_handler(DataError, data_error)
    # Any other exception is rendered by _ErrorGuard: Starlette's own handler for Exception
    # re-raises after answering, and the server then drops the keep-alive connection.


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


class _ErrorGuard:
    """The last line: an unexpected error answers 500 in the surface's envelope, and the
    connection stays open for the client's next request (the error is logged, not re-raised)."""

    def __init__(self, app: ASGIApp, surfaces: SurfaceRegistry) -> None:
        self.app = app
        self.surfaces = surfaces

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = {"started": False, "done": False}

        async def tracking(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                state["done"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            request = Request(scope)
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if state["done"]:
                return
            if state["started"]:
                raise  # half a response was sent: only closing the connection ends it
            response = self.surfaces.render(request, errors.BankfeedsError("An unexpected error occurred."))
            await response(scope, receive, send)


# The API documentation page loads Swagger UI from the package (/docs/assets) and starts it with
# an inline script.
_DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_JSON_CSP = "default-src 'none'; frame-ancestors 'none'"


class _SecurityHeaders:
    """Baseline security headers on every answer that does not set its own (pages set a CSP;
    ``/docs`` and ``/openapi.json`` get theirs here)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = _DOCS_CSP if path == "/docs" or path.startswith("/docs/") else _JSON_CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in (
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", csp.encode()),
                ):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class _HeadAsGet:
    """``HEAD`` answers as ``GET`` would, without the body, on every page and resource."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def asgi_app() -> Any:
    """Factory for `uvicorn --factory bankfeeds.app:asgi_app` (a serving process's entry): logs
    configured, the app built, then the start-up heap frozen (``kit/heap.py``)."""
    from bankfeeds.kit import heap
    from bankfeeds.kit import logging as structured

    settings = get_settings()
    structured.configure(settings.log_format or ("text" if settings.environment == "development" else "json"))
    app = create_app(settings)
    heap.settle()
    return app
