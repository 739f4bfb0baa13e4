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
from bankfeeds.connections import service as connections
from bankfeeds.credentials import service
from bankfeeds.credentials.schemas import BankAccountCredentials
from bankfeeds.errors import NotFound
from bankfeeds.kit.deps import ClockDep, SessionDep, SettingsDep
from bankfeeds.kit.http import JSONResponse, wire
from bankfeeds.models import Connection
from bankfeeds.public_api import codat

router = APIRouter(tags=["Source accounts"])

PATH = "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts/credentials"


@router.post(PATH, operation_id="generate-credentials",
             responses=codat(200, BankAccountCredentials, 404, method="POST"))
def generate_credentials(
    companyId: str, connectionId: str, session: SessionDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    # The spec requires a body but gives it no schema: whatever is sent is ignored.
    connection = _connection(session, companyId, connectionId)
    return JSONResponse(wire(service.generate(session, clock, settings, connection)),
                        headers={"Cache-Control": "no-store"})


@router.delete(PATH, operation_id="delete-bank-feed-credentials", status_code=204,
               responses=codat(204, None, 404))
def delete_credentials(companyId: str, connectionId: str, session: SessionDep, clock: ClockDep) -> Response:
    service.revoke_all(session, clock, _connection(session, companyId, connectionId, for_update=True))
    return Response(status_code=204)


def _connection(session: Session, company_id: str, connection_id: str, *, for_update: bool = False) -> Connection:
    """Path ids to the connection; malformed ids are a 404 like unknown ones (the only 4xx the spec
    documents here besides auth)."""
    company_uuid, connection_uuid = _uuid(company_id), _uuid(connection_id)
    if company_uuid is None:
        raise NotFound(f"No company was found with ID {company_id[:100]}")
    company = companies.get(session, company_uuid)
    if connection_uuid is None:
        raise NotFound(f"Data connection {connection_id[:100]} not found")
    return connections.get(session, company, connection_uuid, for_update=for_update)


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None
