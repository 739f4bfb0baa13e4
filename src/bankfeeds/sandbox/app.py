"""The sandbox on its own (``bankfeeds sandbox``): its own database, pointed at any hub's IDX API."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bankfeeds import errors
from bankfeeds.sandbox import service
from bankfeeds.sandbox.endpoints import BASE, install
from bankfeeds.sandbox.service import Sandbox

log = logging.getLogger("bankfeeds.sandbox")


class DailyPuller:
    """Runs the daily pull every ``poll_seconds`` (a feed is due once a day by the sandbox's clock)."""

    def __init__(self, sb: Sandbox, poll_seconds: float) -> None:
        self.sb = sb
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-daily-pull", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                service.pull_due(self.sb)
            except Exception:
                log.exception("sandbox daily pull failed; it runs again later")
            self._stop.wait(self.poll_seconds)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def create_sandbox_app(sb: Sandbox, secret_key: str, *, poll_seconds: float | None = 60.0) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        puller = DailyPuller(sb, poll_seconds) if poll_seconds else None
        if puller:
            puller.start()
        try:
            yield
        finally:
            if puller:
                puller.stop()

    app = FastAPI(title="QuickBooks sandbox", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.clock = sb.clock
    app.state.database = sb.database
    pages = install(app, sb, secret_key)
    render = pages.error_renderer(home=BASE, home_label="Back to the QuickBooks sandbox")

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse(BASE, status_code=307)

    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.BankfeedsError)
        return render(request, exc)

    async def validation_error(request: Request, exc: Exception) -> Response:
        return render(request, errors.BadRequest("The address or form is not valid."))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        err: errors.BankfeedsError
        if exc.status_code == 404:
            err = errors.NotFound(f"There is no page at {request.url.path}.")
        elif exc.status_code == 405:
            err = errors.MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}.")
        else:
            err = errors.BadRequest(str(exc.detail))
        return render(request, err)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(request, errors.BankfeedsError("An unexpected error occurred."))

    app.add_exception_handler(errors.BankfeedsError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
    return app
