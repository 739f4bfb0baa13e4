"""Mounting the Xero sandbox: inside the hub in demo mode (``/sandbox/xero``), or on its own app."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from bankfeeds.errors import BankfeedsError
from bankfeeds.kit.surfaces import Renderer, SurfaceRegistry
from bankfeeds.sandbox.web import Pages, origin_of
from bankfeeds.xero_sandbox import api, oauth, testing, web
from bankfeeds.xero_sandbox.api import API, BASE, problem_response
from bankfeeds.xero_sandbox.oauth import IDENTITY
from bankfeeds.xero_sandbox.service import OAuthError, XeroSandbox
from bankfeeds.xero_sandbox.testing import TESTING


def redirect_uri_for(public_url: str) -> str:
    """The hub's fixed OAuth redirect URI."""
    return public_url.rstrip("/") + "/link/xero/callback"


def _problem(request: Request, exc: BankfeedsError) -> Response:
    return problem_response(exc)


def _oauth(request: Request, exc: BankfeedsError) -> Response:
    if isinstance(exc, OAuthError):
        return oauth.oauth_error_response(exc)
    error = "invalid_request" if exc.status_code < 500 else "server_error"
    return oauth.oauth_error_response(OAuthError(error, exc.status_code, exc.message))


def install(app: FastAPI, xs: XeroSandbox) -> Pages:
    """Attach the sandbox's routes and state to an app (the hub, or the standalone server)."""
    origins = sorted({origin_of(uri) for _, _, uris in xs.clients for uri in uris})
    pages = web.make_pages(xs.secret_key, origins)
    app.state.xero_sandbox = xs
    app.state.xero_sandbox_pages = pages
    app.include_router(api.router)
    app.include_router(oauth.router)
    app.include_router(testing.router)
    app.include_router(web.router)
    return pages


def register_surfaces(surfaces: SurfaceRegistry, pages: Pages) -> None:
    """Errors: problem+json on the APIs and switches, OAuth JSON on token/revocation, pages as HTML."""
    html: Renderer = pages.error_renderer(home=BASE, home_label="Back to the Xero sandbox")
    surfaces.register(BASE, html)
    surfaces.register(API, _problem)
    surfaces.register(TESTING, _problem)
    surfaces.register(f"{IDENTITY}/token", _oauth)
    surfaces.register(f"{IDENTITY}/revocation", _oauth)


def mount(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    """Inside the hub, in demo mode only: the sandbox is a test double of Xero, never part of the hub.

    It shares the hub's database file (its own ``xero_sandbox_*`` tables) and the hub's clock, and
    registers the hub's Xero app (``BANKFEEDS_XERO_CLIENT_ID``/``_SECRET``) with the redirect URI
    ``{BANKFEEDS_PUBLIC_URL}/link/xero/callback``.
    """
    settings = app.state.settings
    if not settings.demo:
        return
    xs = XeroSandbox(
        database=app.state.database, clock=app.state.clock, secret_key=settings.secret_key, demo=True,
        clients=[(settings.xero_client_id, settings.xero_client_secret, [redirect_uri_for(settings.public_url)])],
    )
    pages = install(app, xs)
    register_surfaces(surfaces, pages)
