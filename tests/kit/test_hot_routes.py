"""kit.hot_routes: a hot handler answers the common case in one thread hop (a coroutine: on the
event loop); the route answers everything else, exactly as if the handler were not there."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bankfeeds.kit import hot_routes
from bankfeeds.kit.hot_routes import HotRequest, HotRoute


class _RecordRoute:
    """Outer middleware: what the log line would name (the route's template)."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.seen.append(getattr(scope.get("route"), "path_format", "unmatched"))


def _app(handler: hot_routes.Handler, seen: list[str]) -> FastAPI:
    app = FastAPI()

    @app.post("/things/{thing_id}", operation_id="make-thing")
    async def make_thing(thing_id: str, request: Request) -> dict[str, Any]:
        return {"by": "route", "thing": thing_id, "body": (await request.body()).decode()}

    hot_routes.install(app, [HotRoute("make-thing", handler)])
    app.add_middleware(_RecordRoute, seen=seen)
    return app


def _handler(request: HotRequest) -> JSONResponse | None:
    if request.body == b"not for me":
        return None
    return JSONResponse({"by": "hot", "thing": request.path_params["thing_id"], "q": request.query_param("q"),
                         "auth": request.header(b"authorization"), "body": request.body.decode()})


def test_the_handler_answers_the_common_case_and_the_route_the_rest() -> None:
    seen: list[str] = []
    with TestClient(_app(_handler, seen)) as client:
        hot = client.post("/things/a1?q=1&q=2&other=x", content=b"x" * 70_000, headers={"Authorization": "k"})
        assert hot.status_code == 200
        assert hot.json() == {"by": "hot", "thing": "a1", "q": "2", "auth": "k", "body": "x" * 70_000}
        # Declined: the route gets the same request, body and all.
        declined = client.post("/things/a2", content=b"not for me")
        assert declined.json() == {"by": "route", "thing": "a2", "body": "not for me"}
        # Other methods and paths never reach the handler.
        assert client.get("/things/a3").status_code == 405
        assert client.post("/things/a4/more", content=b"x").status_code == 404
    assert seen[:2] == ["/things/{thing_id}", "/things/{thing_id}"]


def test_an_error_the_handler_raises_reaches_the_apps_handlers() -> None:
    def failing(request: HotRequest) -> JSONResponse | None:
        raise LookupError("the database said no")

    app = _app(failing, [])

    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=409)

    app.add_exception_handler(LookupError, conflict)
    with TestClient(app) as client:
        answer = client.post("/things/a1", content=b"x")
    assert (answer.status_code, answer.json()) == (409, {"error": "the database said no"})


def test_only_a_route_that_would_get_the_request_can_be_hot() -> None:
    app = FastAPI()

    @app.post("/things/{thing_id}", operation_id="make-thing")
    def make_thing(thing_id: str) -> None: ...

    @app.post("/things/special", operation_id="make-special")
    def make_special() -> None: ...

    with pytest.raises(LookupError, match="goes to another route first"):
        hot_routes.install(app, [HotRoute("make-special", _handler)])
    with pytest.raises(LookupError, match="0 routes"):
        hot_routes.install(app, [HotRoute("no-such-operation", _handler)])


def test_a_coroutine_handler_runs_on_the_event_loop_and_a_plain_one_in_a_thread() -> None:
    async def on_loop(request: HotRequest) -> JSONResponse | None:
        await asyncio.sleep(0)
        return JSONResponse({"thread": threading.get_ident()})

    def in_thread(request: HotRequest) -> JSONResponse | None:
        return JSONResponse({"thread": threading.get_ident()})

    async def thread_of(handler: hot_routes.Handler) -> tuple[int, int]:
        app = FastAPI()

        @app.post("/things/{thing_id}", operation_id="make-thing")
        def make_thing(thing_id: str) -> None: ...

        hot_routes.install(app, [HotRoute("make-thing", handler)])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.post("/things/1")
        return answer.json()["thread"], threading.get_ident()

    handler_thread, loop_thread = asyncio.run(thread_of(on_loop))
    assert handler_thread == loop_thread
    handler_thread, loop_thread = asyncio.run(thread_of(in_thread))
    assert handler_thread != loop_thread
