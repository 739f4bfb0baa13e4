from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bankfeeds.api_keys import service
from bankfeeds.api_keys.service import Caller
from bankfeeds.kit.deps import ClockDep, SessionDep, get_clock, get_database


def _already_authenticated(request: Request) -> Caller | None:
    # The idempotency middleware authenticates in its own reservation and leaves the key here.
    cached = getattr(request.state, "api_key", None)
    return cached if isinstance(cached, Caller) else None


def current_api_key(request: Request) -> Caller:
    """Authenticates in its own short transaction, before the request's unit of work: for the
    operations that open their own units of work (calls to a platform between them)."""
    cached = _already_authenticated(request)
    if cached is not None:
        return cached
    with get_database(request).unit_of_work() as session:
        key = service.authenticate(session, request.headers.get("authorization"), get_clock(request))
    request.state.api_key = key
    return key


def api_key_in_request(request: Request, session: SessionDep, clock: ClockDep) -> Caller:
    """Authenticates inside the request's own unit of work (the one its endpoint uses): one
    transaction per request, the key read where the work is done, so a revocation committed
    before this read refuses the request. A refused key rolls the transaction back (nothing
    written); the rare "last used" write (once a minute) commits with the request, or not at all
    if the request fails (the next request that succeeds records it)."""
    cached = _already_authenticated(request)
    if cached is not None:
        return cached
    key = service.authenticate(session, request.headers.get("authorization"), clock)
    request.state.api_key = key
    return key


ApiKeyDep = Annotated[Caller, Depends(current_api_key)]
