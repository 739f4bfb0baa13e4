"""The Xero sandbox on its own (``bankfeeds sandbox xero``): its own database, port and clock."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match

from bankfeeds import errors
from bankfeeds.kit.surfaces import SurfaceRegistry
from bankfeeds.xero_sandbox.api import BASE
from bankfeeds.xero_sandbox.endpoints import install, register_surfaces
from bankfeeds.xero_sandbox.service import XeroSandbox

log = logging.getLogger("bankfeeds.xero_sandbox")


def _allowed(request: Request) -> list[str]:
    """The methods of the resource at this path. Where a literal route and a parameter both match
    (``/FeedConnections/DeleteRequests`` and ``/FeedConnections/{feed_id}``), the literal one wins."""
    from bankfeeds.xero_sandbox import api, oauth, testing, web

    routes = [*api.router.routes, *oauth.router.routes, *testing.router.routes, *web.router.routes]
    found: list[tuple[int, str]] = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        for route in routes:
            match, _ = route.matches({**request.scope, "method": method})
            if match == Match.FULL:
                found.append((len(getattr(route, "param_convertors", {})), method))
    if not found:
        return []
    fewest = min(n for n, _ in found)
    return sorted({m for n, m in found if n == fewest})


def create_xero_sandbox_app(xs: XeroSandbox) -> FastAPI:
    app = FastAPI(title="Xero sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.clock = xs.clock
    app.state.database = xs.database
    pages = install(app, xs)
    surfaces = SurfaceRegistry()
    register_surfaces(surfaces, pages)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse(BASE, status_code=307)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.BankfeedsError)
        return surfaces.render(request, exc)

    async def validation_error(request: Request, exc: Exception) -> Response:
        return surfaces.render(request, errors.BadRequest("The address, query or form is not valid."))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        err: errors.BankfeedsError
        if exc.status_code == 404:
            err = errors.NotFound(f"There is nothing at {request.url.path}.")
        elif exc.status_code == 405:
            err = errors.MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}.",
                                          headers={"Allow": ", ".join(_allowed(request))})
        else:
            err = errors.BadRequest(str(exc.detail))
            err.status_code = exc.status_code
        return surfaces.render(request, err)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return surfaces.render(request, errors.BankfeedsError("An unexpected error occurred."))

    app.add_exception_handler(errors.BankfeedsError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
    return app
