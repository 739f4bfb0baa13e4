"""The test double's own switches under ``/sandbox/xero/testing`` (never part of the hub): the fault
switch, rate limits on/off, and the log of every API call the sandbox received.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from bankfeeds.errors import BadRequest
from bankfeeds.kit import jsonutil
from bankfeeds.kit.http import JSONResponse
from bankfeeds.xero_sandbox import service
from bankfeeds.xero_sandbox.api import BASE, get_xs
from bankfeeds.xero_sandbox.web import parse_fault

TESTING = f"{BASE}/testing"
router = APIRouter(prefix=TESTING, include_in_schema=False)


async def _object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    body = jsonutil.loads(raw) if raw.strip() else None
    if not isinstance(body, dict):
        raise BadRequest("A JSON object is expected.")
    return body


@router.post("/faults")
async def arm_fault(request: Request) -> Response:
    """``{"kind": "429"|"500"|"reject-statement", "count": N, "retryAfter": s, "tenantId": optional}``."""
    body = await _object(request)
    kind = body.get("kind")
    get_xs(request).faults.add(parse_fault(kind if isinstance(kind, str) else "", body.get("count"),
                                           body.get("retryAfter"), body.get("tenantId")))
    return Response(status_code=204)


@router.delete("/faults")
def clear_faults(request: Request) -> Response:
    get_xs(request).faults.clear()
    return Response(status_code=204)


@router.post("/limits")
async def set_limits(request: Request) -> Response:
    """``{"enabled": bool}``: Xero's rate limits on (the default) or off (benches)."""
    body = await _object(request)
    if not isinstance(body.get("enabled"), bool):
        raise BadRequest("enabled must be true or false.")
    xs = get_xs(request)
    xs.limits.enabled = body["enabled"]
    return Response(status_code=204)


@router.get("/calls")
def calls(request: Request, tenant_id: Annotated[str | None, Query(alias="tenantId", max_length=100)] = None,
          after: Annotated[int, Query(ge=0)] = 0) -> Response:
    """Every API call received, oldest first: ``[{id, clientId, tenantId, method, path, status, problem, at}]``."""
    xs = get_xs(request)
    with xs.database.unit_of_work() as session:
        return JSONResponse(service.calls_wire(session, tenant_id, after))


@router.get("/statements")
def statements(request: Request) -> Response:
    """Every statement the sandbox holds, all tenants and apps, oldest first, with its lines'
    transactionIds: ``[{id, tenantId, feedConnectionId, accountToken, status, lineCount, transactionIds}]``
    (tests assert that each statement is held exactly once)."""
    xs = get_xs(request)
    with xs.database.unit_of_work() as session:
        return JSONResponse(service.all_statements_wire(session))
