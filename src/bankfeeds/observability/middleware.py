"""One ASGI middleware for every request: a correlation id, one log line, the HTTP metrics.

The correlation id is Codat's ``correlationId`` (error envelopes show it) and is sent back in
``X-Correlation-Id``; the log line names the surface, the route template (never the raw path,
so ids stay out of metric labels), the status, the time taken, and the company and connection of
the path. Query strings are never logged (a linkUrl carries a one-time password).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bankfeeds.kit import logging as structured
from bankfeeds.kit.surfaces import CONSOLE, DEMO, IDX, LINK, SANDBOX, SurfaceRegistry, under
from bankfeeds.observability import metrics

log = logging.getLogger("bankfeeds.request")

_SURFACES = {IDX: "idx", LINK: "link", SANDBOX: "sandbox", DEMO: "demo", CONSOLE: "console",
             "/metrics": "metrics", "/healthz": "health", "/readyz": "health"}


def surface_of(surfaces: SurfaceRegistry, path: str) -> str:
    prefix = surfaces.prefix_for(path)
    for known, name in _SURFACES.items():
        if under(path, known):
            return name
    if prefix is None:
        return "api"
    return prefix.strip("/").split("/")[-1] or "api"


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    if isinstance(route, Mount):
        return route.path + "/{path}"
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else "unmatched"


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, surfaces: SurfaceRegistry) -> None:
        self.app = app
        self.surfaces = surfaces

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        cid = structured.new_correlation_id()
        state["correlation_id"] = cid
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-correlation-id", str(state.get("correlation_id", cid)).encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        started = time.perf_counter()
        with structured.context(cid):
            try:
                await self.app(scope, receive, send_with_status)
            finally:
                elapsed = time.perf_counter() - started
                path = str(scope.get("path", ""))
                surface = surface_of(self.surfaces, path)
                route = route_template(scope)
                method = str(scope.get("method", ""))
                metrics.HTTP_REQUESTS.labels(surface, route, method, str(status)).inc()
                metrics.HTTP_LATENCY.labels(surface, route).observe(elapsed)
                params = scope.get("path_params") or {}
                log.info("%s %s %d", method, route, status, extra={
                    "correlation_id": state.get("correlation_id", cid), "kind": "request", "surface": surface,
                    "method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1000, 1),
                    "company_id": params.get("companyId"), "connection_id": params.get("connectionId"),
                })
