"""Source accounts (Codat's ``source_accounts`` SDK group, without the credentials operations,
which live in ``bankfeeds.credentials``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from bankfeeds.errors import BadRequest
from bankfeeds.kit import jsonutil
from bankfeeds.kit.deps import ClockDep, DatabaseDep, SessionDep, SettingsDep
from bankfeeds.kit.http import JSONResponse
from bankfeeds.source_accounts import service

router = APIRouter(tags=["Source accounts"])

CONNECTION = "/companies/{companyId}/connections/{connectionId}"
ACCOUNTS = CONNECTION + "/connectionInfo/bankFeedAccounts"


async def json_value(request: Request) -> Any:
    """The body as exact JSON (numbers as Decimal), of any shape: the services tell v1 from v2."""
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("The request body is empty; a JSON body is expected.")
    return jsonutil.loads(raw)


JsonBody = Annotated[Any, Depends(json_value)]


@router.post(ACCOUNTS, operation_id="create-source-account")
def create_source_account(
    companyId: str, connectionId: str, body: JsonBody, session: SessionDep, clock: ClockDep
) -> JSONResponse:
    _, connection = service.resolve(session, companyId, connectionId, for_update=True)
    return JSONResponse(service.to_wire(service.create(session, clock, connection, body)))


@router.post(
    ACCOUNTS + "/batch",
    operation_id="create-batch-source-account",
    status_code=201,
    responses={207: {"description": "Multi-Status"}, 409: {"description": "Conflict"}},
)
def create_batch_source_account(
    companyId: str, connectionId: str, body: JsonBody, session: SessionDep, clock: ClockDep
) -> JSONResponse:
    _, connection = service.resolve(session, companyId, connectionId, for_update=True)
    status, results = service.create_batch(session, clock, connection, body)
    return JSONResponse(results, status_code=status)


@router.get(ACCOUNTS, operation_id="list-source-accounts")
def list_source_accounts(companyId: str, connectionId: str, session: SessionDep) -> JSONResponse:
    _, connection = service.resolve(session, companyId, connectionId)
    return JSONResponse([service.to_wire(a) for a in service.list_accounts(session, connection)])


@router.patch(ACCOUNTS + "/{accountId}", operation_id="update-source-account")
def update_source_account(
    companyId: str, connectionId: str, accountId: str, body: JsonBody,
    database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    # Its own transaction, then (for a disconnect) the platform is told, outside it.
    return JSONResponse(service.update_and_release(database, clock, settings, companyId, connectionId, accountId,
                                                   body))


@router.delete(ACCOUNTS + "/{accountId}", operation_id="delete-source-account", status_code=204)
def delete_source_account(
    companyId: str, connectionId: str, accountId: str, database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
) -> Response:
    service.delete_and_release(database, clock, settings, companyId, connectionId, accountId)
    return Response(status_code=204)


@router.post(CONNECTION + "/bankFeeds/otp", operation_id="generate-otp")
def generate_otp(companyId: str, connectionId: str, session: SessionDep) -> JSONResponse:
    _, connection = service.resolve(session, companyId, connectionId)
    service.generate_otp(connection)
