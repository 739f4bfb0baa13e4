from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from bankfeeds.bank_transactions import service
from bankfeeds.bank_transactions.schemas import CreateBankTransactions, CreateBankTransactionsResponse, PushOption
from bankfeeds.companies.deps import CompanyIdDep
from bankfeeds.connections.deps import ConnectionIdDep
from bankfeeds.kit.deps import ClockDep, SessionDep, SettingsDep
from bankfeeds.kit.http import JSONResponse, json_body, wire
from bankfeeds.public_api import codat
from bankfeeds.push_operations import service as push_operations

router = APIRouter(tags=["Transactions"])

ACCOUNT = "/companies/{companyId}/connections/{connectionId}"


@router.post(
    ACCOUNT + "/push/bankAccounts/{accountId}/bankTransactions", operation_id="create-bank-transactions",
    responses=codat(200, CreateBankTransactionsResponse, 400, 404, method="POST"),
)
def create_bank_transactions(
    companyId: CompanyIdDep,
    connectionId: ConnectionIdDep,
    accountId: str,
    body: Annotated[CreateBankTransactions, Depends(json_body(CreateBankTransactions))],
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    timeout_in_minutes: Annotated[str | None, Query(alias="timeoutInMinutes")] = None,
    allow_sync_on_push_complete: Annotated[str | None, Query(alias="allowSyncOnPushComplete")] = None,
) -> JSONResponse:
    service.parse_allow_sync(allow_sync_on_push_complete)
    op = service.write(
        session, clock, settings,
        company_id=companyId, connection_id=connectionId, account_id=accountId, body=body,
        timeout_in_minutes=service.parse_timeout(timeout_in_minutes),
    )
    return JSONResponse(wire(push_operations.to_wire(op)))


@router.get(
    ACCOUNT + "/options/bankAccounts/{accountId}/bankTransactions",
    operation_id="get-create-bank-transactions-model",
    responses=codat(200, PushOption, 404),
)
def get_create_bank_transactions_model(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep, accountId: str, session: SessionDep
) -> JSONResponse:
    return JSONResponse(wire(service.create_model(session, companyId, connectionId, accountId), exclude_none=True))
