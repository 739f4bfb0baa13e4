"""Hot routes: the common case of a few busy operations, served without FastAPI's routing and
dependency solving.

A bank pushing one card payment at a time calls create-bank-transactions hundreds of times a
second; at that rate FastAPI's per-request machinery (walking every route's pattern, solving the
dependency graph, a threadpool hop per sync dependency and another for the commit) costs more
than the work itself. A hot route keeps everything a request owes the operator and the client:

* it sits where the router is (inside every middleware: the correlation id, the log line and the
  metrics, the error guard, the security headers, the body limit, the input policy,
  Idempotency-Key), so those see it exactly as they see the route;
* exceptions it lets out reach the app's exception handlers, as the route's would;
* its work (authentication included) runs in one transaction, in one threadpool hop or, for a
  handler that is a coroutine, on the event loop (its database work awaited: ``Database.run_async``).

What it does not own is any answer but the common one. Its handler returns ``None`` for anything
else (a malformed body, an unknown id, a refused key: any domain error), after rolling back what
it did, and the route's FastAPI endpoint then answers the same request (its body replayed), so
every error keeps the route's wording and envelope, and the OpenAPI document stays the route's.
A declined request costs two attempts; it is the rare case, and the first wrote nothing.

Rule for handlers: decline only *before* anything is committed; once the transaction commits,
answer (a retry of the whole request after a commit would write twice).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette._utils import get_route_path
from starlette.convertors import Convertor
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from bankfeeds.kit.http import header, read_body, replaying


@dataclass
class HotRequest:
    """What a hot handler gets: the scope, the path's parameters and the whole body."""

    scope: Scope
    path_params: dict[str, Any]
    body: bytes
    _query: list[tuple[str, str]] | None = field(default=None, repr=False)

    @property
    def app_state(self) -> Any:
        return self.scope["app"].state

    @property
    def state(self) -> dict[str, Any]:
        """The request's state (``request.state``), shared with the middlewares."""
        state: dict[str, Any] = self.scope.setdefault("state", {})
        return state

    def header(self, name: bytes) -> str | None:
        """The first value of a header (``name`` lower-case), as Starlette's ``headers.get``."""
        return header(self.scope, name)

    def query_param(self, name: str) -> str | None:
        """The last value of a query parameter (as FastAPI reads a scalar query parameter)."""
        if self._query is None:
            self._query = parse_qsl(self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        found = None
        for key, value in self._query:
            if key == name:
                found = value
        return found


Handler = Callable[[HotRequest], Response | None] | Callable[[HotRequest], Awaitable[Response | None]]


@dataclass(frozen=True)
class HotRoute:
    """A handler for the route whose OpenAPI ``operation_id`` is given (that route's method and path)."""

    operation_id: str
    handler: Handler


@dataclass(frozen=True)
class _Bound:
    route: APIRoute  # what the router puts in scope["route"] (the log line's and metrics' template)
    path_regex: re.Pattern[str]
    param_convertors: dict[str, Convertor[Any]]
    methods: frozenset[str]
    handler: Handler


class HotRoutes:
    """Wraps the router: a request for a hot route goes to its handler first (see the module docstring)."""

    def __init__(self, app: ASGIApp, bound: Sequence[_Bound]) -> None:
        self.app = app
        self.bound = tuple(bound)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for hot in self.bound:
                if scope["method"] in hot.methods:
                    matched = hot.path_regex.match(get_route_path(scope))
                    if matched is not None:
                        await self._serve(hot, matched.groupdict(), scope, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _serve(self, hot: _Bound, raw_params: dict[str, str], scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        if body is None:
            return  # the client went away before sending its body
        convertors = hot.param_convertors
        params = {name: convertors[name].convert(value) for name, value in raw_params.items()}
        # As the router would set them: the log line and the metrics name the route's template.
        scope["route"] = hot.route
        scope["endpoint"] = hot.route.endpoint
        scope["path_params"] = params
        request = HotRequest(scope, params, body)
        if inspect.iscoroutinefunction(hot.handler):
            response = await hot.handler(request)
        else:
            response = await anyio.to_thread.run_sync(hot.handler, request)
        if response is None:
            # Not the common case: the route answers, with its own words.
            await self.app(scope, replaying(request.body, receive), send)
            return
        await response(scope, receive, send)


def install(app: FastAPI, routes: Sequence[HotRoute]) -> None:
    """Put ``routes`` in front of ``app``'s router. Each must name a route of ``app`` that no earlier
    route shadows (the router gives a request to the first route that matches it)."""
    # The app's routes as the router tries them, included routers' routes with their prefixes.
    contexts = list(iter_route_contexts(app.router.routes))
    bound: list[_Bound] = []
    for hot in routes:
        found = [c for c in contexts if getattr(c, "operation_id", None) == hot.operation_id]
        if len(found) != 1 or not isinstance(found[0].original_route, APIRoute):
            raise LookupError(f"hot route {hot.operation_id!r}: {len(found)} routes have that operation id")
        context = found[0]
        route = context.original_route
        assert isinstance(route, APIRoute)
        methods = frozenset(context.methods or ())
        sample = str(context.path_format).replace("{", "x").replace("}", "")
        for method in methods:
            scope = {"type": "http", "path": sample, "root_path": "", "method": method}
            first = next(c for c in contexts if c.matches(scope)[0] is Match.FULL)
            if first.original_route is not route:
                raise LookupError(f"hot route {hot.operation_id!r}: {method} {sample} goes to another route first")
        bound.append(_Bound(route, context.path_regex, context.param_convertors, methods, hot.handler))
    app.router.middleware_stack = HotRoutes(app.router.middleware_stack, bound)
