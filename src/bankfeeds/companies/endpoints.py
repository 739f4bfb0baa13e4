from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from bankfeeds.api_keys.deps import ApiKeyDep
from bankfeeds.companies import service
from bankfeeds.companies.deps import CompanyIdDep
from bankfeeds.companies.schemas import Companies, CompanyOut, CompanyRequestBody, CompanyUpdateRequest
from bankfeeds.kit.deps import ClockDep, DatabaseDep, SessionDep, SettingsDep
from bankfeeds.kit.http import JSONResponse, json_body, optional_json_body, wire
from bankfeeds.kit.pagination import PageParams, envelope, page_params
from bankfeeds.public_api import MALFORMED_QUERY, codat

router = APIRouter(tags=["Companies"])

CompanyBody = Annotated[CompanyRequestBody, Depends(json_body(CompanyRequestBody))]
UpdateBody = Annotated[CompanyUpdateRequest, Depends(optional_json_body(CompanyUpdateRequest))]


@router.post("/companies", operation_id="create-company", responses=codat(200, CompanyOut, 400, method="POST"))
def create_company(
    body: CompanyBody, session: SessionDep, clock: ClockDep, settings: SettingsDep, api_key: ApiKeyDep
) -> JSONResponse:
    company, otps = service.create(session, clock, settings, body, created_by=api_key.name)
    return JSONResponse(wire(service.to_wire(settings, company, otps)))


@router.get("/companies", operation_id="list-companies",
            responses=codat(200, Companies, 400, 404, notes={400: MALFORMED_QUERY}))
def list_companies(
    session: SessionDep,
    settings: SettingsDep,
    params: Annotated[PageParams, Depends(page_params)],
    tags: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    rows, total = service.page(session, params, tags)
    results = [wire(service.to_wire(settings, c)) for c in rows]
    return JSONResponse(envelope("/companies", params, results, total))


@router.get("/companies/{companyId}", operation_id="get-company", responses=codat(200, CompanyOut, 404))
def get_company(companyId: CompanyIdDep, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    return JSONResponse(wire(service.to_wire(settings, service.get(session, companyId))))


@router.delete("/companies/{companyId}", operation_id="delete-company", status_code=204,
               responses=codat(204, None, 404))
def delete_company(
    companyId: CompanyIdDep, database: DatabaseDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    # No request-wide transaction: each connection's platform is told first, over the network.
    service.delete_and_release(database, clock, settings, companyId)
    return Response(status_code=204)


@router.put("/companies/{companyId}", operation_id="replace-company",
            responses=codat(200, CompanyOut, 400, 404, method="PUT"))
def replace_company(
    companyId: CompanyIdDep, body: CompanyBody, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    company = service.replace(service.get(session, companyId, for_update=True), body)
    return JSONResponse(wire(service.to_wire(settings, company)))


@router.patch("/companies/{companyId}", operation_id="update-company",
              responses=codat(200, CompanyOut, 400, 404, method="PATCH"))
def update_company(
    companyId: CompanyIdDep, body: UpdateBody, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    company = service.update(service.get(session, companyId, for_update=True), body)
    return JSONResponse(wire(service.to_wire(settings, company)))
