"""The IDX API at ``/partners/intuit/idx``: ``GET /accounts`` and ``GET /accounts/{accountId}/transactions``.

Errors use Codat's ErrorMessage envelope with service ``PullApi``. Beyond the spec, these optional
parameters are understood:

* ``page`` (or ``pageNumber``) and ``pageSize`` (1 to 2000, default 1000) on both operations;
* on transactions, the headers ``X-Feed-Start-Date: YYYY-MM-DD`` (default: today),
  ``X-Target-Account-Id`` and ``X-Target-Account-Name``: how the platform linked the account,
  recorded when a pull connects it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from starlette.responses import Response

from bankfeeds.errors import BankfeedsError
from bankfeeds.idx import service
from bankfeeds.idx.schemas import IntuitAccounts, IntuitTransactions
from bankfeeds.kit.deps import ClockDep, SessionDep, SettingsDep, get_clock, get_database, get_settings
from bankfeeds.kit.http import JSONResponse
from bankfeeds.kit.pagination import PageWindow
from bankfeeds.kit.surfaces import IDX, SurfaceRegistry, codat_envelope
from bankfeeds.public_api import codat

PREFIX = IDX

router = APIRouter(prefix=PREFIX, tags=["Idx"])


def current_principal(request: Request) -> service.Principal:
    """Authenticates in its own short transaction (failure counts commit), before the request's."""
    address = request.client.host if request.client else "unknown"
    with get_database(request).unit_of_work() as session:
        outcome = service.login(
            session, get_clock(request), get_settings(request),
            request.headers.get("authorization"), request.headers.get("x-partner-key"), address,
        )
    if isinstance(outcome, BankfeedsError):
        raise outcome
    return outcome


PrincipalDep = Annotated[service.Principal, Depends(current_principal)]


def paging(
    page: Annotated[str | None, Query()] = None,
    page_number: Annotated[str | None, Query(alias="pageNumber")] = None,
    page_size: Annotated[str | None, Query(alias="pageSize")] = None,
) -> PageWindow:
    return service.paging(page, page_number, page_size)


PagingDep = Annotated[PageWindow, Depends(paging)]


@router.get("/accounts", operation_id="list-accounts", responses=codat(200, IntuitAccounts, 400, 404))
def list_accounts(
    principal: PrincipalDep, page: PagingDep, session: SessionDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    return JSONResponse(service.list_accounts(session, clock, settings, principal, page))


@router.get("/accounts/{accountId}/transactions", operation_id="list-transactions",
            responses=codat(200, IntuitTransactions, 400, 404))
def list_transactions(
    accountId: str,
    principal: PrincipalDep,
    page: PagingDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    start_date: Annotated[str | None, Query(alias="startDate")] = None,
    end_date: Annotated[str | None, Query(alias="endDate")] = None,
    feed_start_date: Annotated[str | None, Header(alias="X-Feed-Start-Date")] = None,
    target_account_id: Annotated[str | None, Header(alias="X-Target-Account-Id")] = None,
    target_account_name: Annotated[str | None, Header(alias="X-Target-Account-Name")] = None,
) -> JSONResponse:
    span = service.window(start_date, end_date)
    link = service.linking(clock, feed_start_date, target_account_id, target_account_name)
    return JSONResponse(service.list_transactions(session, clock, settings, principal, accountId, span, page, link))


def render_error(request: Request, exc: BankfeedsError) -> Response:
    return codat_envelope(request, exc, service="PullApi")


def mount(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    surfaces.register(PREFIX, render_error)
    app.include_router(router)
