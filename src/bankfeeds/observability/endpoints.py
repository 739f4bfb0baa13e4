"""``GET /metrics``: the Prometheus text exposition (no auth: expose it on an internal port only)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from bankfeeds.kit.deps import get_clock, get_database
from bankfeeds.kit.surfaces import SurfaceRegistry
from bankfeeds.observability import metrics

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def get_metrics(request: Request) -> Response:
    body = metrics.exposition(get_database(request), get_clock(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def mount(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    metrics.install_listeners()
    app.include_router(router)
