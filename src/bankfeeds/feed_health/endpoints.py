"""Feed health, a bankfeeds extension of the public API (``x-bankfeeds-extension``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bankfeeds.companies.deps import CompanyIdDep
from bankfeeds.connections.deps import ConnectionIdDep
from bankfeeds.feed_health import service
from bankfeeds.feed_health.schemas import CompanyFeedHealth, ConnectionFeedHealth
from bankfeeds.kit.deps import ClockDep, SessionDep, SettingsDep
from bankfeeds.kit.http import JSONResponse, wire
from bankfeeds.public_api import EVERY_EXTENSION, codat

router = APIRouter(tags=["Feed health (bankfeeds extensions)"])
EXTENSION: dict[str, Any] = {"x-bankfeeds-extension": True}


@router.get("/companies/{companyId}/connections/{connectionId}/feedHealth",
            operation_id="bankfeeds-get-connection-feed-health",
            responses=codat(200, ConnectionFeedHealth, every=EVERY_EXTENSION),
            summary="Feed health of a connection's source accounts", openapi_extra=EXTENSION)
def get_connection_feed_health(
    companyId: CompanyIdDep, connectionId: ConnectionIdDep, session: SessionDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    """Per source account: status, last pull or delivery, backlog, days before QuickBooks' inactivity
    disconnection, last push and last error, and the balance chain's first break."""
    return JSONResponse(wire(service.for_connection(session, clock, settings, companyId, connectionId)))


@router.get("/companies/{companyId}/feedHealth", operation_id="bankfeeds-get-company-feed-health",
            responses=codat(200, CompanyFeedHealth, every=EVERY_EXTENSION),
            summary="Feed health of every connection of a company", openapi_extra=EXTENSION)
def get_company_feed_health(
    companyId: CompanyIdDep, session: SessionDep, clock: ClockDep, settings: SettingsDep,
) -> JSONResponse:
    """The connection feed health of each of the company's connections."""
    return JSONResponse(wire(service.for_company(session, clock, settings, companyId)))
