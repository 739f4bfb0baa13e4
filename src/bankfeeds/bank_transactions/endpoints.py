from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bankfeeds.api_keys.service import Caller
from bankfeeds.bank_transactions import service
from bankfeeds.bank_transactions.schemas import CreateBankTransactions, CreateBankTransactionsResponse, PushOption
from bankfeeds.companies.deps import CompanyIdDep
from bankfeeds.connections.deps import ConnectionIdDep
from bankfeeds.errors import BankfeedsError
from bankfeeds.kit import driver_sql
from bankfeeds.kit.deps import ClockDep, SessionDep, SettingsDep
from bankfeeds.kit.hot_routes import HotRequest, HotRoute
from bankfeeds.kit.http import JSONResponse, PlainJSONResponse, json_body, parse_model, wire
from bankfeeds.models import PushOperation
from bankfeeds.public_api import codat
from bankfeeds.push_operations import service as push_operations

router = APIRouter(tags=["Transactions"])

ACCOUNT = "/companies/{companyId}/connections/{connectionId}"

# The most transactions a push may hold to be written on the event loop (``Database.run_async``):
# a few milliseconds of work at most; the loop serves no other request meanwhile.
ON_THE_LOOP = 100


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
) -> PlainJSONResponse:
    service.parse_allow_sync(allow_sync_on_push_complete)
    op = service.write(
        session, clock, settings,
        company_id=companyId, connection_id=connectionId, account_id=accountId, body=body,
        timeout_in_minutes=service.parse_timeout(timeout_in_minutes),
    )
    return PlainJSONResponse(push_operations.as_wire(op))


async def create_bank_transactions_hot(request: HotRequest) -> PlainJSONResponse | None:
    """``create_bank_transactions`` for the common case (``kit/hot_routes.py``): a well-formed body
    for an account that exists, with a valid API key. The same service call in the same single
    transaction, authentication included, on the event loop (``Database.run_async``: no thread)
    unless the push is long (``ON_THE_LOOP``); ``None`` (nothing written) for anything else, which
    the endpoint above then answers in its own words."""
    try:
        timeout = service.parse_timeout(request.query_param("timeoutInMinutes"))
        service.parse_allow_sync(request.query_param("allowSyncOnPushComplete"))
        company_id = uuid.UUID(request.path_params["companyId"])
        connection_id = uuid.UUID(request.path_params["connectionId"])
        body = parse_model(request.body, CreateBankTransactions)  # as json_body parses it
    except (BankfeedsError, ValueError):
        return None
    state = request.app_state
    key = request.state.get("api_key")  # authenticated already by the Idempotency-Key middleware
    account_id = request.path_params["accountId"]
    # A small push (on the loop) takes its ids as new: its insert goes with its other writes, one
    # round trip fewer, the most of its cost. A long one inserts first (as the route does): the
    # combined statement of 1000 rows had a slow run in a hundred (bench write: p99 ~200 ms, not ~50).
    small = len(body.transactions) <= ON_THE_LOOP

    def write(session: Session) -> PushOperation:
        try:
            target = None
            if not isinstance(key, Caller):
                # The key and the target in one query; either missing: the route says which.
                target = service.resolve_for_key(
                    session, state.clock, request.header(b"authorization"), company_id, connection_id, account_id)
                if target is None:
                    raise _Declined
            return service.write(
                session, state.clock, state.settings, company_id=company_id, connection_id=connection_id,
                account_id=account_id, body=body, timeout_in_minutes=timeout, target=target, assume_new=small,
            )
        except driver_sql.NotAsExpected as err:
            # An id the account already had (a retried push): rolled back; the route writes it
            # without assuming, and answers with the repeats' warnings.
            raise _Declined from err
        except DBAPIError as err:
            if err.connection_invalidated:
                # The pooled connection had died (a database restart): every pooled connection is
                # replaced, and the route answers on a fresh one.
                raise _Declined from err
            raise

    database = state.database
    # A small push on the event loop itself; a long one in a thread, not to hold up other requests.
    run = database.run_async if small else database.run_in_thread
    try:
        op = await run(write)
    except (BankfeedsError, _Declined):
        return None  # rolled back: nothing was written (a domain error at commit is raised before it)
    return PlainJSONResponse(push_operations.as_wire(op))


class _Declined(Exception):
    """The hot lane leaves the request to the route, nothing written."""


HOT_ROUTES = (HotRoute("create-bank-transactions", create_bank_transactions_hot),)


@router.get(
    ACCOUNT + "/options/bankAccounts/{accountId}/bankTransactions",
    operation_id="get-create-bank-transactions-model",
    responses=codat(200, PushOption, 404),
)
def get_create_bank_transactions_model(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep, accountId: str, session: SessionDep
) -> JSONResponse:
    return JSONResponse(wire(service.create_model(session, companyId, connectionId, accountId), exclude_none=True))
