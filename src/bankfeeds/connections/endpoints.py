from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from bankfeeds.companies import service as companies
from bankfeeds.companies.deps import CompanyIdDep
from bankfeeds.connections import service
from bankfeeds.connections.deps import ConnectionIdDep
from bankfeeds.connections.schemas import ConnectionCreate, ConnectionOut, Connections, ConnectionUnlink
from bankfeeds.kit.deps import ClockDep, DatabaseDep, SessionDep, SettingsDep
from bankfeeds.kit.http import JSONResponse, json_body, optional_json_body, wire
from bankfeeds.kit.pagination import PageParams, envelope, page_params
from bankfeeds.public_api import MALFORMED_QUERY, codat

router = APIRouter(tags=["Connections"])
ONE_CONNECTION = ("The company already has a bank-feeds connection (a company has one), or a request with this "
                  "Idempotency-Key is still in progress.")


@router.get("/companies/{companyId}/connections", operation_id="list-connections",
            responses=codat(200, Connections, 400, 404, notes={400: MALFORMED_QUERY}))
def list_connections(
    companyId: CompanyIdDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    params: Annotated[PageParams, Depends(page_params)],
) -> JSONResponse:
    company = companies.get(session, companyId)
    rows, total = service.page(session, company, params)
    results = [wire(service.to_wire(settings, c, service.mint_otp(clock, settings, c))) for c in rows]
    return JSONResponse(envelope(f"/companies/{companyId}/connections", params, results, total))


@router.post("/companies/{companyId}/connections", operation_id="create-connection",
             responses=codat(200, ConnectionOut, 400, 404, 409, method="POST", notes={409: ONE_CONNECTION}))
def create_connection(
    companyId: CompanyIdDep,
    body: Annotated[ConnectionCreate, Depends(optional_json_body(ConnectionCreate))],
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> JSONResponse:
    company = companies.get(session, companyId, for_update=True)
    connection, otp = service.create(session, clock, settings, company, body)
    return JSONResponse(wire(service.to_wire(settings, connection, otp)))


@router.get("/companies/{companyId}/connections/{connectionId}", operation_id="get-connection",
            responses=codat(200, ConnectionOut, 404))
def get_connection(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep,
    session: SessionDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    connection = service.get(session, companies.get(session, companyId), connectionId)
    otp = service.mint_otp(clock, settings, connection)
    return JSONResponse(wire(service.to_wire(settings, connection, otp)))


@router.delete("/companies/{companyId}/connections/{connectionId}", operation_id="delete-connection",
               response_class=Response, responses=codat(200, None, 404))  # 200 with no body, as Codat's
def delete_connection(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep,
    database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
) -> Response:
    # No request-wide transaction: the platform may be told first, over the network.
    service.delete_and_release(database, clock, settings, companyId, connectionId)
    return Response(status_code=200)


@router.patch("/companies/{companyId}/connections/{connectionId}", operation_id="unlink-connection",
              responses=codat(200, ConnectionOut, 400, 404, method="PATCH"))
def unlink_connection(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep,
    body: Annotated[ConnectionUnlink, Depends(json_body(ConnectionUnlink))],
    session: SessionDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    company = companies.get(session, companyId)
    connection = service.get(session, company, connectionId, for_update=True)
    service.unlink(session, clock, settings, company, connection, body)
    return JSONResponse(wire(service.to_wire(settings, connection)))
