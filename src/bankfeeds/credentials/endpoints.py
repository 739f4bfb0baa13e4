"""generate-credentials and delete-bank-feed-credentials.

These paths share ``.../bankFeedAccounts/{accountId}`` with source accounts, so this router is
included before theirs (see ``public_api.RESOURCE_MODULES``): ``credentials`` is never taken
for an account id.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from bankfeeds.companies import service as companies
from bankfeeds.companies.deps import CompanyIdDep
from bankfeeds.connections import service as connections
from bankfeeds.connections.deps import ConnectionIdDep
from bankfeeds.credentials import service
from bankfeeds.credentials.schemas import BankAccountCredentials
from bankfeeds.kit.deps import ClockDep, SessionDep, SettingsDep
from bankfeeds.kit.http import JSONResponse, wire
from bankfeeds.models import Connection
from bankfeeds.public_api import codat

router = APIRouter(tags=["Source accounts"])

PATH = "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts/credentials"


@router.post(PATH, operation_id="generate-credentials",
             responses=codat(200, BankAccountCredentials, 404, method="POST"))
def generate_credentials(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep, session: SessionDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    # The spec requires a body but gives it no schema: whatever is sent is ignored.
    connection = _connection(session, companyId, connectionId)
    return JSONResponse(wire(service.generate(session, clock, settings, connection)),
                        headers={"Cache-Control": "no-store"})


@router.delete(PATH, operation_id="delete-bank-feed-credentials", status_code=204,
               responses=codat(204, None, 404))
def delete_credentials(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep, session: SessionDep, clock: ClockDep
) -> Response:
    service.revoke_all(session, clock, _connection(session, companyId, connectionId, for_update=True))
    return Response(status_code=204)


def _connection(
    session: Session, company_id: uuid.UUID, connection_id: uuid.UUID, *, for_update: bool = False
) -> Connection:
    return connections.get(session, companies.get(session, company_id), connection_id, for_update=for_update)
