"""The sandbox's APIs under ``/sandbox/xero/api``: identity ``/connections``, accounting
``/api.xro/2.0`` (Organisation, Accounts) and bank feeds ``/bankfeeds.xro/1.0``.

Every call goes through ``XeroApiRoute``: Bearer token, ``Xero-Tenant-Id``, scope, the fault
switch, the rate limits (with their headers on every answer), ``Idempotency-Key`` on the bank
feeds POSTs, and one row in the call log. Errors are ``application/problem+json``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bankfeeds.errors import BankfeedsError, MethodNotAllowed
from bankfeeds.kit import jsonutil
from bankfeeds.kit.http import JSONResponse
from bankfeeds.kit.surfaces import SANDBOX
from bankfeeds.models import XeroSandboxIdempotencyKey
from bankfeeds.xero_sandbox import service
from bankfeeds.xero_sandbox.repository import XeroSandboxRepository
from bankfeeds.xero_sandbox.service import Principal, Problem, XeroSandbox

log = logging.getLogger("bankfeeds.xero_sandbox")

BASE = f"{SANDBOX}/xero"
API = f"{BASE}/api"
ACCOUNTING = "/api.xro/2.0"
BANKFEEDS = "/bankfeeds.xro/1.0"
PROBLEM = "application/problem+json"


def get_xs(request: Request) -> XeroSandbox:
    return cast(XeroSandbox, request.app.state.xero_sandbox)


def problem_response(exc: BankfeedsError) -> Response:
    if isinstance(exc, Problem):
        body = exc.body()
    else:
        status = exc.status_code
        type_ = "internal-error" if status >= 500 else "invalid-request"
        title = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                 413: "Request too large", 429: "Too Many Requests"}.get(status, "Invalid Request")
        if status >= 500:
            title = "Intermittent Internal Xero Error"
        detail = exc.message if status < 500 or status in (502, 503) else (
            "The request should be retried. If the error persists, a Xero support issue should be raised.")
        body = {"type": type_, "title": title, "status": status, "detail": detail[:255]}
    return JSONResponse(body, status_code=exc.status_code, headers=dict(exc.headers), media_type=PROBLEM)


def _scopes_for(path: str) -> tuple[str, ...]:
    if path.startswith(API + ACCOUNTING):
        return ("accounting.settings", "accounting.settings.read")
    if path.startswith(API + BANKFEEDS):
        return ("bankfeeds",)
    return ()


def _idempotent(request: Request) -> bool:
    return request.method == "POST" and request.url.path.startswith(API + BANKFEEDS)


class XeroApiRoute(APIRoute):
    """Wraps each API operation in what Xero does around every call."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return await _call(request, inner)

        return handler


async def _call(request: Request, inner: Callable[[Request], Coroutine[Any, Any, Response]]) -> Response:
    xs = get_xs(request)
    path = request.url.path
    principal: Principal | None = None
    tenant: str | None = None
    problem_kind: str | None = None
    held = False
    try:
        scopes = _scopes_for(path)
        authorization = request.headers.get("authorization")
        raw_tenant = request.headers.get("xero-tenant-id")

        def authenticate() -> Principal:
            with xs.database.unit_of_work() as session:
                found = service.principal_for(session, xs.clock, authorization)
                if scopes:
                    found.tenant_id = service.check_tenant(session, found, raw_tenant)
                    service.require_scope(found, *scopes)
                return found

        principal = await run_in_threadpool(authenticate)
        request.state.xero_principal = principal
        tenant = str(principal.tenant_id) if principal.tenant_id else None
        fault = xs.faults.take(("429", "500"), tenant)
        if fault is not None:
            problem_kind = "fault"
            if fault.kind == "429":
                raise Problem(429, "invalid-request", "Too Many Requests",
                              "Rate limit exceeded (the sandbox's 429 fault).",
                              headers={"Retry-After": str(fault.retry_after), "X-Rate-Limit-Problem": "minute"})
            raise Problem(500, "internal-error", "Intermittent Internal Xero Error",
                          "The request should be retried. If the error persists, a Xero support issue should be "
                          "raised.")
        rate_headers: dict[str, str] = {}
        if tenant is not None:
            statements = request.method == "POST" and path == f"{API}{BANKFEEDS}/Statements"
            verdict = xs.limits.acquire(tenant, principal.client_id, xs.now(), statements=statements)
            rate_headers = verdict.headers
            if verdict.problem is not None:
                problem_kind = verdict.problem
                raise Problem(429, "invalid-request", "Too Many Requests",
                              f"Rate limit exceeded ({verdict.problem} limit).",
                              headers={**rate_headers, "Retry-After": str(verdict.retry_after),
                                       "X-Rate-Limit-Problem": verdict.problem})
            held = True
        if _idempotent(request) and request.headers.get("idempotency-key") is not None:
            response = await _with_idempotency(request, xs, principal, inner)
        else:
            response = await _run(request, inner)
        for name, value in rate_headers.items():
            response.headers[name] = value
    except BankfeedsError as exc:
        response = problem_response(exc)
    except Exception:
        log.exception("unhandled error in the Xero sandbox API on %s %s", request.method, path)
        response = problem_response(BankfeedsError("unexpected"))
    finally:
        if held and tenant is not None:
            xs.limits.release(tenant)
    await run_in_threadpool(service.record_call, xs, client_id=principal.client_id if principal else None,
                            tenant_id=tenant, method=request.method, path=path, status=response.status_code,
                            problem=problem_kind)
    return response


async def _run(request: Request, inner: Callable[[Request], Coroutine[Any, Any, Response]]) -> Response:
    try:
        return await inner(request)
    except BankfeedsError as exc:
        return problem_response(exc)


async def _with_idempotency(request: Request, xs: XeroSandbox, principal: Principal,
                            inner: Callable[[Request], Coroutine[Any, Any, Response]]) -> Response:
    key = (request.headers.get("idempotency-key") or "").strip()
    if not key or len(key) > 128:
        raise service.invalid_request("The Idempotency-Key header must be 1 to 128 characters.")
    body = await request.body()
    fingerprint = hashlib.sha256(request.url.path.encode() + b"\n" + body).hexdigest()
    tenant = str(principal.tenant_id)

    def lookup() -> XeroSandboxIdempotencyKey | None:
        with xs.database.unit_of_work() as session:
            return XeroSandboxRepository(session).idempotency_key(principal.client_id, tenant, key)

    found = await run_in_threadpool(lookup)
    if found is not None:
        if found.request_hash != fingerprint:
            raise service.invalid_request("This Idempotency-Key was used with a different request.")
        return Response(found.body, status_code=found.status_code, media_type=found.media_type,
                        headers={"Idempotent-Replayed": "true"})
    response = await _run(request, inner)
    if response.status_code < 500:
        raw = bytes(response.body)

        def store() -> None:
            from sqlalchemy.exc import IntegrityError

            try:
                with xs.database.unit_of_work() as session:
                    XeroSandboxRepository(session).add(XeroSandboxIdempotencyKey(
                        client_id=principal.client_id, tenant_id=tenant, key=key, request_hash=fingerprint,
                        status_code=response.status_code,
                        media_type=response.media_type or "application/json",
                        body=raw.decode("utf-8"), created_at=xs.now()))
            except IntegrityError:
                pass  # a concurrent request with the same key stored its answer first

        await run_in_threadpool(store)
    return response


# -- operations -------------------------------------------------------------------------------------
router = APIRouter(prefix=API, include_in_schema=False, route_class=XeroApiRoute)


def get_principal(request: Request) -> Principal:
    return cast(Principal, request.state.xero_principal)


XsDep = Annotated[XeroSandbox, Depends(get_xs)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _json(body: Any, status: int = 200, media_type: str = "application/json") -> Response:
    return JSONResponse(body, status_code=status, media_type=media_type)


async def _body(request: Request, *, limit: int | None = None) -> Any:
    declared = request.headers.get("content-length")
    if limit is not None and declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    raw = await request.body()
    if limit is not None and len(raw) > limit:
        raise _too_large(len(raw), limit)
    if not raw.strip():
        raise service.invalid_request("The request body is required.")
    try:
        return jsonutil.loads(raw)
    except BankfeedsError:
        raise service.invalid_request("The request body is not valid JSON.") from None


def _too_large(size: int, limit: int) -> Problem:
    return Problem(413, "invalid-request", "Request too large",
                   f"Request size of {size} bytes exceeds the limit of {limit} bytes.")


@router.get("/connections")
@router.get("/Connections")
def list_connections(request: Request, xs: XsDep, principal: PrincipalDep) -> Response:
    with xs.database.unit_of_work() as session:
        return _json(service.list_connections(session, principal, request.query_params.get("authEventId")))


@router.delete("/connections/{connection_id}")
@router.delete("/Connections/{connection_id}")
def delete_connection(connection_id: str, xs: XsDep, principal: PrincipalDep) -> Response:
    with xs.database.unit_of_work() as session:
        service.delete_connection(session, principal, connection_id)
    return Response(status_code=204)


@router.get(ACCOUNTING + "/Organisation")
def organisation(xs: XsDep, principal: PrincipalDep) -> Response:
    with xs.database.unit_of_work() as session:
        return _json(service.organisation_wire(session, xs.clock, principal))


@router.get(ACCOUNTING + "/Accounts")
def accounts(request: Request, xs: XsDep, principal: PrincipalDep) -> Response:
    with xs.database.unit_of_work() as session:
        return _json(service.accounts_wire(session, xs.clock, principal, request.query_params.get("where")))


@router.post(BANKFEEDS + "/FeedConnections")
async def create_feed_connections(request: Request, xs: XsDep, principal: PrincipalDep) -> Response:
    body = await _body(request)

    def run() -> Response:
        with xs.database.unit_of_work() as session:
            status, out = service.create_feed_connections(session, xs.clock, principal, body)
        return _json(out, status)

    return await run_in_threadpool(run)


@router.get(BANKFEEDS + "/FeedConnections")
def list_feed_connections(request: Request, xs: XsDep, principal: PrincipalDep) -> Response:
    page, size = service.pagination(request.query_params.get("page"), request.query_params.get("pageSize"))
    with xs.database.unit_of_work() as session:
        # 202, as Xero's spec documents for this operation.
        return _json(service.list_feed_connections(session, principal, page, size), 202)


@router.post(BANKFEEDS + "/FeedConnections/DeleteRequests")
async def delete_feed_connections(request: Request, xs: XsDep, principal: PrincipalDep) -> Response:
    body = await _body(request)

    def run() -> Response:
        with xs.database.unit_of_work() as session:
            status, out = service.delete_feed_connections(session, xs.clock, principal, body)
        return _json(out, status)

    return await run_in_threadpool(run)


@router.get(BANKFEEDS + "/FeedConnections/{feed_id}")
def get_feed_connection(feed_id: str, xs: XsDep, principal: PrincipalDep) -> Response:
    if feed_id == "DeleteRequests":  # the literal resource beside {id}, which only takes POST
        raise MethodNotAllowed("GET is not allowed on FeedConnections/DeleteRequests.", headers={"Allow": "POST"})
    with xs.database.unit_of_work() as session:
        return _json(service.get_feed_connection(session, principal, feed_id))


@router.post(BANKFEEDS + "/Statements")
async def create_statements(request: Request, xs: XsDep, principal: PrincipalDep) -> Response:
    body = await _body(request, limit=service.MAX_STATEMENT_BYTES)

    def run() -> Response:
        with xs.database.unit_of_work() as session:
            status, out = service.create_statements(session, xs.clock, principal, body)
        return _json(out, status, PROBLEM if status == 409 else "application/json")

    return await run_in_threadpool(run)


@router.get(BANKFEEDS + "/Statements")
def list_statements(request: Request, xs: XsDep, principal: PrincipalDep) -> Response:
    page, size = service.pagination(request.query_params.get("page"), request.query_params.get("pageSize"))
    with xs.database.unit_of_work() as session:
        return _json(service.list_statements(session, xs, principal, page, size))


@router.get(BANKFEEDS + "/Statements/{statement_id}")
def get_statement(statement_id: str, xs: XsDep, principal: PrincipalDep) -> Response:
    with xs.database.unit_of_work() as session:
        return _json(service.get_statement(session, xs, principal, statement_id))
