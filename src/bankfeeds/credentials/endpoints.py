"""generate-credentials and delete-bank-feed-credentials.

These paths share ``.../bankFeedAccounts/{accountId}`` with source accounts, so this router is
included before theirs (see ``public_api.RESOURCE_MODULES``): ``credentials`` is never taken
for an account id.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from bankfeeds.companies import service as companies
from bankfeeds.connections import service as connections
from bankfeeds.credentials import service
from bankfeeds.kit.deps import ClockDep, SessionDep, SettingsDep
from bankfeeds.kit.http import JSONResponse, wire

router = APIRouter(tags=["Source accounts"])

PATH = "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts/credentials"


@router.post(PATH, operation_id="generate-credentials")
def generate_credentials(
    companyId: uuid.UUID, connectionId: uuid.UUID,
    session: SessionDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    # The spec requires a body but gives it no schema: whatever is sent is ignored.
    connection = connections.get(session, companies.get(session, companyId), connectionId)
    return JSONResponse(wire(service.generate(session, clock, settings, connection)),
                        headers={"Cache-Control": "no-store"})


@router.delete(PATH, operation_id="delete-bank-feed-credentials", status_code=204)
def delete_credentials(
    companyId: uuid.UUID, connectionId: uuid.UUID, session: SessionDep, clock: ClockDep,
) -> Response:
    connection = connections.get(session, companies.get(session, companyId), connectionId, for_update=True)
    service.revoke_all(session, clock, connection)
    return Response(status_code=204)
