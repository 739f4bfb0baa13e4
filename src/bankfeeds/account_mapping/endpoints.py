"""Account mapping (Codat's ``account_mapping`` SDK group) and company information."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from bankfeeds.account_mapping import service
from bankfeeds.account_mapping.schemas import BankFeedAccountMapping
from bankfeeds.kit.deps import ClockDep, SessionDep, SettingsDep
from bankfeeds.kit.http import JSONResponse, json_body
from bankfeeds.source_accounts.service import resolve

router = APIRouter()

CONNECTION = "/companies/{companyId}/connections/{connectionId}"
MAPPING = CONNECTION + "/bankFeedAccounts/mapping"


@router.get(MAPPING, operation_id="get-bank-account-mapping", tags=["Account mapping"])
def get_bank_account_mapping(companyId: str, connectionId: str, session: SessionDep) -> JSONResponse:
    _, connection = resolve(session, companyId, connectionId)
    return JSONResponse(service.list_mappings(session, connection))


@router.post(MAPPING, operation_id="create-bank-account-mapping", tags=["Account mapping"])
def create_bank_account_mapping(
    companyId: str, connectionId: str,
    body: Annotated[BankFeedAccountMapping, Depends(json_body(BankFeedAccountMapping))],
    session: SessionDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    company, connection = resolve(session, companyId, connectionId, for_update=True)
    return JSONResponse(service.create_mapping(session, clock, settings, company, connection, body))


@router.get(CONNECTION + "/bankFeeds/info", operation_id="get-company-information", tags=["Company information"])
def get_company_information(companyId: str, connectionId: str, session: SessionDep) -> JSONResponse:
    company, connection = resolve(session, companyId, connectionId)
    return JSONResponse(service.company_information(session, company, connection))
