from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from bankfeeds.companies.deps import CompanyIdDep
from bankfeeds.kit.deps import SessionDep
from bankfeeds.kit.http import PlainJSONResponse
from bankfeeds.kit.pagination import PageParams, envelope, page_params
from bankfeeds.public_api import MALFORMED_QUERY, codat
from bankfeeds.push_operations import service
from bankfeeds.push_operations.deps import PushOperationKeyDep
from bankfeeds.push_operations.schemas import PushOperationOut, PushOperations

router = APIRouter(tags=["Transactions"])


@router.get("/companies/{companyId}/push", operation_id="list-create-operations",
            responses=codat(200, PushOperations, 400, 404, notes={400: MALFORMED_QUERY}))
def list_create_operations(
    companyId: CompanyIdDep, session: SessionDep, params: Annotated[PageParams, Depends(page_params)]
) -> PlainJSONResponse:
    company = service.company_by_id(session, companyId)
    rows, total = service.page(session, company, params)
    results = [service.as_wire(op) for op in rows]
    return PlainJSONResponse(envelope(f"/companies/{companyId}/push", params, results, total))


@router.get("/companies/{companyId}/push/{pushOperationKey}", operation_id="get-create-operation",
            responses=codat(200, PushOperationOut, 404))
def get_create_operation(
    companyId: CompanyIdDep, pushOperationKey: PushOperationKeyDep, session: SessionDep
) -> PlainJSONResponse:
    company = service.company_by_id(session, companyId)
    return PlainJSONResponse(service.as_wire(service.get(session, company, pushOperationKey)))
