"""Account mapping (Codat's ``account_mapping`` SDK group) and company information.

No request-wide transaction here: the platform is asked over the network, and the service runs
its own short transactions around those calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from bankfeeds.account_mapping import service
from bankfeeds.account_mapping.schemas import (
    BankFeedAccountMapping,
    BankFeedAccountMappingResponse,
    BankFeedMappingOut,
    CompanyInformation,
)
from bankfeeds.companies.deps import CompanyIdDep
from bankfeeds.connections.deps import ConnectionIdDep
from bankfeeds.kit.deps import ClockDep, DatabaseDep, SettingsDep
from bankfeeds.kit.http import JSONResponse, json_body
from bankfeeds.public_api import codat

router = APIRouter()

CONNECTION = "/companies/{companyId}/connections/{connectionId}"
MAPPING = CONNECTION + "/bankFeedAccounts/mapping"


@router.get(MAPPING, operation_id="get-bank-account-mapping", tags=["Account mapping"],
            responses=codat(200, list[BankFeedMappingOut], 404))
def get_bank_account_mapping(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep,
    database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    return JSONResponse(service.list_mappings(database, clock, settings, companyId, connectionId))


@router.post(MAPPING, operation_id="create-bank-account-mapping", tags=["Account mapping"],
             responses=codat(200, BankFeedAccountMappingResponse, 400, 404, method="POST"))
def create_bank_account_mapping(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep,
    body: Annotated[BankFeedAccountMapping, Depends(json_body(BankFeedAccountMapping))],
    database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    return JSONResponse(service.create_mapping(database, clock, settings, companyId, connectionId, body))


@router.get(CONNECTION + "/bankFeeds/info", operation_id="get-company-information", tags=["Company information"],
            responses=codat(200, CompanyInformation, 400, 404))
def get_company_information(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep,
    database: DatabaseDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    return JSONResponse(service.company_information(database, clock, settings, companyId, connectionId))
