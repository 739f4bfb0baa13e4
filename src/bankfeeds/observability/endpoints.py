"""``GET /metrics``: the Prometheus text exposition.

With ``BANKFEEDS_METRICS_TOKEN`` set it needs ``Authorization: Bearer <token>`` (compared in
constant time); without it, it is open, so keep it on the internal network (docs/deploy.md)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import PlainTextResponse, Response

from bankfeeds.kit.deps import get_clock, get_database, get_settings
from bankfeeds.kit.security import same
from bankfeeds.kit.surfaces import SurfaceRegistry
from bankfeeds.observability import metrics

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def get_metrics(request: Request) -> Response:
    token = get_settings(request).metrics_token
    if token is not None and not _bearer_is(request.headers.get("authorization"), token):
        return PlainTextResponse(
            "Metrics need the scrape token: send 'Authorization: Bearer <BANKFEEDS_METRICS_TOKEN>'.\n",
            status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"})
    body = metrics.exposition(get_database(request), get_clock(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _bearer_is(authorization: str | None, token: str) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and same(given.strip(), token)


def mount(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    metrics.install_listeners()
    app.include_router(router)
