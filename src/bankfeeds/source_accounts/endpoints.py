"""Source accounts (Codat's ``source_accounts`` SDK group, without the credentials operations,
which live in ``bankfeeds.credentials``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from bankfeeds.companies.deps import CompanyIdDep
from bankfeeds.connections.deps import ConnectionIdDep
from bankfeeds.errors import BadRequest
from bankfeeds.kit import jsonutil
from bankfeeds.kit.deps import ClockDep, DatabaseDep, SessionDep, SettingsDep
from bankfeeds.kit.http import JSONResponse
from bankfeeds.public_api import codat
from bankfeeds.source_accounts import service
from bankfeeds.source_accounts.schemas import (
    AnySourceAccount,
    BatchCreated,
    BatchResults,
    GenerateOtpResponse,
    SourceAccountOut,
)

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


@router.post(ACCOUNTS, operation_id="create-source-account",
             responses=codat(200, AnySourceAccount, 400, 404, method="POST"))
def create_source_account(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep, body: JsonBody, session: SessionDep, clock: ClockDep
) -> JSONResponse:
    _, connection = service.resolve(session, companyId, connectionId, for_update=True)
    return JSONResponse(service.to_wire(service.create(session, clock, connection, body)))


@router.post(
    ACCOUNTS + "/batch",
    operation_id="create-batch-source-account",
    status_code=201,
    responses=codat(201, BatchCreated, 400, 404, method="POST", more={
        207: {"description": "Multi-Status: some accounts were created, the others conflicted.", "model": BatchResults},
        409: {"description": "Conflict: every account conflicted, none was created.", "model": BatchResults},
    }),
)
def create_batch_source_account(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep, body: JsonBody, session: SessionDep, clock: ClockDep
) -> JSONResponse:
    _, connection = service.resolve(session, companyId, connectionId, for_update=True)
    status, results = service.create_batch(session, clock, connection, body)
    return JSONResponse(results, status_code=status)


@router.get(ACCOUNTS, operation_id="list-source-accounts", responses=codat(200, list[AnySourceAccount], 404))
def list_source_accounts(companyId: CompanyIdDep, connectionId: ConnectionIdDep, session: SessionDep) -> JSONResponse:
    _, connection = service.resolve(session, companyId, connectionId)
    return JSONResponse([service.to_wire(a) for a in service.list_accounts(session, connection)])


@router.patch(ACCOUNTS + "/{accountId}", operation_id="update-source-account",
              responses=codat(200, SourceAccountOut, 400, 404, method="PATCH"))
def update_source_account(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep, accountId: str, body: JsonBody,
    database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    # Its own transaction, then (for a disconnect) the platform is told, outside it.
    return JSONResponse(service.update_and_release(database, clock, settings, companyId, connectionId, accountId,
                                                   body))


@router.delete(ACCOUNTS + "/{accountId}", operation_id="delete-source-account", status_code=204,
               responses=codat(204, None, 404))
def delete_source_account(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep, accountId: str,
    database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
) -> Response:
    service.delete_and_release(database, clock, settings, companyId, connectionId, accountId)
    return Response(status_code=204)


@router.post(CONNECTION + "/bankFeeds/otp", operation_id="generate-otp", responses=codat(
    200, GenerateOtpResponse, 400, 404, method="POST",
    description="Success (Sage Bank Feeds only: bankfeeds has no Sage integration and answers 400)."))
def generate_otp(companyId: CompanyIdDep, connectionId: ConnectionIdDep, session: SessionDep) -> JSONResponse:
    _, connection = service.resolve(session, companyId, connectionId)
    service.generate_otp(connection)
