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
from bankfeeds.xero_sandbox import seed, service
from bankfeeds.xero_sandbox.api import BASE, get_xs
from bankfeeds.xero_sandbox.codes import COUNTRIES, CURRENCIES
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
    if tenant_id is not None and not service.storable(tenant_id, 100):
        raise BadRequest("tenantId is not valid.")
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


@router.post("/organisations")
async def add_organisation(request: Request) -> Response:
    """``{"name", "currency": "USD", "country": "US", "users": [emails], "bankAccounts": [{"name",
    "number", "type": "BANK"|"CREDITCARD", "currency"}]}`` -> 201 ``{"tenantId", "name"}``.
    Idempotent by name: an existing organisation gains the users and bank accounts it lacks."""
    body = await _object(request)
    name, currency, country = body.get("name"), body.get("currency", "USD"), body.get("country", "US")
    users, accounts = body.get("users", [seed.DEMO_EMAIL]), body.get("bankAccounts", [])
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200 or not service.storable(name):
        raise BadRequest("name must be 1 to 200 characters.")
    if currency not in CURRENCIES or country not in COUNTRIES:
        raise BadRequest("currency and country must be ISO codes Xero accepts.")
    if not isinstance(users, list) or not all(isinstance(u, str) and service.storable(u, 254) for u in users):
        raise BadRequest("users must be a list of emails.")
    parsed: list[tuple[str, str, str, str]] = []
    if not isinstance(accounts, list) or len(accounts) > 100:
        raise BadRequest("bankAccounts must be a list (at most 100).")
    for acc in accounts:
        if not isinstance(acc, dict):
            raise BadRequest("each bank account must be an object.")
        fields = (acc.get("name"), acc.get("number"), acc.get("type", "BANK"), acc.get("currency", currency))
        if (not all(isinstance(f, str) and service.storable(f) for f in fields) or not 1 <= len(str(fields[0])) <= 150
                or len(str(fields[1])) > 40 or fields[2] not in ("BANK", "CREDITCARD") or fields[3] not in CURRENCIES):
            raise BadRequest("each bank account needs name (1-150), number (<=40), type BANK|CREDITCARD, currency.")
        parsed.append((str(fields[0]), str(fields[1]), str(fields[2]), str(fields[3])))
    xs = get_xs(request)
    try:
        with xs.database.unit_of_work() as session:
            org = seed.add_organisation(session, xs.clock, name=name.strip(), currency=str(currency),
                                        country=str(country), users=list(users), bank_accounts=parsed)
            answer = {"tenantId": str(org.id), "name": org.name}
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return JSONResponse(answer, status_code=201)
