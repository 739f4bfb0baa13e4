"""One ``XeroApi`` per piece of work, closed after it, and Xero's failures in the hub's error tree."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from bankfeeds.config import Settings
from bankfeeds.errors import BadRequest, BankfeedsError, ServiceUnavailable, TooManyRequests
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.platforms.gbol import xero_api
from bankfeeds.platforms.gbol.tokens import NotAuthorized
from bankfeeds.platforms.gbol.xero_api import InvalidGrant, RateLimited, XeroApi, XeroError, XeroProblem


@contextmanager
def open_api(
    settings: Settings, database: Database, clock: Clock, *, timeout: float | None = None
) -> Iterator[XeroApi]:
    # A shorter timeout (clean-up before a delete) takes a client of its own, made the one way.
    http = xero_api.new_http(settings.model_copy(update={"xero_timeout_seconds": timeout})) \
        if timeout is not None else None
    api = XeroApi(settings, database, clock, http=http)
    try:
        yield api
    finally:
        api.close()
        if http is not None:
            http.close()


def as_error(exc: Exception, clock: Clock, connection_id: object) -> BankfeedsError:
    """What the public API answers when Xero could not do what was asked."""
    if isinstance(exc, NotAuthorized | InvalidGrant):
        return BadRequest(
            f"Data connection {connection_id} has no working Xero authorization (it is not linked, or "
            "the organisation disconnected the app). Link it again through a fresh linkUrl."
        )
    if isinstance(exc, RateLimited):
        wait = max(1, math.ceil((exc.retry_at - clock.now()).total_seconds()))
        return TooManyRequests(f"Xero's rate limit for this organisation is reached; retry in {wait} seconds.",
                               headers={"Retry-After": str(wait)})
    if isinstance(exc, XeroProblem) and 400 <= exc.status < 500:
        return BadRequest(f"Xero refused the request: {exc.detail or exc.title} ({exc.type}).")
    if isinstance(exc, XeroError):
        return ServiceUnavailable(f"Xero could not be reached or failed ({exc}); retry later.")
    raise exc
