from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bankfeeds.api_keys import service
from bankfeeds.kit.deps import get_clock, get_database
from bankfeeds.models import ApiKey


def current_api_key(request: Request) -> ApiKey:
    """Authenticates in its own short transaction, before the request's unit of work."""
    cached = getattr(request.state, "api_key", None)
    if isinstance(cached, ApiKey):
        return cached
    with get_database(request).unit_of_work() as session:
        key = service.authenticate(session, request.headers.get("authorization"), get_clock(request))
    request.state.api_key = key
    return key


ApiKeyDep = Annotated[ApiKey, Depends(current_api_key)]
