"""``/``: in demo mode, a landing page with the journey's steps and every surface; ``/docs``: Swagger UI.

Swagger UI's files come from the ``fastapi-offline`` package (its ``static/`` folder, MIT-licensed
swagger-ui dist), served here under ``/docs/assets``: the docs work without internet access.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

from bankfeeds.config import Settings
from bankfeeds.errors import NotFound
from bankfeeds.kit.surfaces import SurfaceRegistry
from bankfeeds.sandbox.web import Pages

HERE = Path(__file__).parent
SWAGGER_DIST = Path(fastapi_offline.__file__).parent / "static"
ASSETS = "/docs/assets"

router = APIRouter(include_in_schema=False)


@router.get("/")
def landing(request: Request) -> Response:
    settings = cast(Settings, request.app.state.settings)
    if not settings.demo:
        raise NotFound(f"No resource was found at {request.url.path}")
    pages = cast(Pages, request.app.state.landing_pages)
    return pages.render(request, "landing.html", {
        "institution": settings.institution_name, "base_url": settings.public_url.rstrip("/")})


@router.get("/landing.css")
def stylesheet(request: Request) -> Response:
    pages = cast(Pages, request.app.state.landing_pages)
    css = (HERE / "static" / "landing.css").read_text(encoding="utf-8")
    return pages.headers(Response(css, media_type="text/css"))


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    app = request.app
    return get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} · API docs",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon.png",
        swagger_ui_parameters=app.swagger_ui_parameters,
    )


def mount(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    app.state.landing_pages = Pages(HERE / "templates", secret_key=app.state.settings.secret_key,
                                    cookie_name="landing_csrf", cookie_path="/")
    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_DIST), name="docs-assets")
