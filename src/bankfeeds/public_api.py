"""The public API: Codat's Bank Feeds API, authenticated with an API key on every route.

Each route documents its answers with :func:`codat`: its success body and the error statuses of
its operation in Codat's spec, each in Codat's ``ErrorMessage`` envelope, and what every route of
its method may answer beyond that (``tests/contract/test_openapi.py`` holds the whole against the
pinned specs).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from bankfeeds.api_keys.deps import api_key_in_request, current_api_key
from bankfeeds.api_keys.service import Caller
from bankfeeds.kit.deps import get_session
from bankfeeds.kit.openapi import responses
from bankfeeds.kit.surfaces import ErrorMessage

# One router per resource folder; each module exposes ``router``.
RESOURCE_MODULES = (
    "bankfeeds.companies.endpoints",
    "bankfeeds.connections.endpoints",
    "bankfeeds.credentials.endpoints",  # before source accounts: DELETE .../bankFeedAccounts/credentials
    "bankfeeds.source_accounts.endpoints",
    "bankfeeds.account_mapping.endpoints",
    "bankfeeds.bank_transactions.endpoints",
    "bankfeeds.push_operations.endpoints",
    "bankfeeds.webhooks.endpoints",
    "bankfeeds.feed_health.endpoints",  # extensions
)

# The error responses, described as Codat's spec describes them (where bankfeeds differs, it says so).
ERRORS: dict[int, str] = {
    400: "The request made is not valid.",
    401: "Your API request was not properly authorized.",
    402: "An account limit has been exceeded. Codat's plan limits; bankfeeds has none and does not answer "
         "402, which is listed as in Codat's spec.",
    403: "You are using an outdated API key or a key not associated with that resource.",
    404: "One or more of the resources you referenced could not be found. This might be because your "
         "company or data connection id is wrong, or was already deleted.",
    409: "The request conflicts with the resource's current state.",
    413: "The request body is larger than the server accepts.",
    422: "This Idempotency-Key was already used with a different request.",
    429: "Too many requests were made in a given amount of time. Wait a short period and then try again.",
    500: "There is a problem with our server. Please try again later.",
    503: "The service is temporarily unavailable (the database is busy or offline). Please try again later.",
}
MALFORMED_QUERY = "Your `query` or `orderBy` parameter was not correctly formed."
# On every operation of Codat's spec.
EVERY_OPERATION = (401, 402, 403, 429, 500, 503)
# On every bankfeeds extension (``bankfeeds-...`` operations): what they can answer.
EVERY_EXTENSION = (401, 404, 500, 503)
# What any route may answer beyond its operation in Codat's spec, by method (see codat()).
BODY_TOO_LARGE = {"POST", "PUT", "PATCH"}  # the body-size limit (413)
IDEMPOTENT = {"POST", "PATCH"}  # Idempotency-Key: 409 while the first request runs, 422 for another request
IDEMPOTENCY_CONFLICT = "A request with this Idempotency-Key is still in progress, or its response was lost."


def codat(
    status: int,
    model: Any = None,
    *also: int,
    method: str = "GET",
    every: tuple[int, ...] = EVERY_OPERATION,
    notes: Mapping[int, str] | None = None,
    description: str = "Success",
    more: Mapping[int, dict[str, Any]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a public route: ``status`` with ``model``; the errors of ``every``
    operation (Codat's; ``EVERY_EXTENSION`` for an extension), ``also``, and those every route of
    its ``method`` may answer (413 for a body too large; 409 and 422 for an Idempotency-Key), each
    in Codat's ``ErrorMessage``, described by ``ERRORS`` unless ``notes`` says otherwise; and
    ``more`` as given."""
    codes = [*every, *also]
    extra: dict[int, str] = {}
    if method in BODY_TOO_LARGE:
        codes.append(413)
    if method in IDEMPOTENT:
        codes.extend((409, 422))
        extra[409] = IDEMPOTENCY_CONFLICT
    described = {**extra, **(notes or {})}
    errors = {code: described.get(code, ERRORS[code]) for code in codes if code not in (more or {})}
    return responses(status, model, errors, error_model=ErrorMessage, description=description, more=more)


def _uses_request_session(dependant: Dependant) -> bool:
    return any(d.call is get_session or _uses_request_session(d) for d in dependant.dependencies)


def runs_in_request_session(route: BaseRoute) -> bool:
    """Whether the operation does its work in the request's unit of work (``SessionDep``), rather
    than opening units of work of its own (those that call a platform between two)."""
    return isinstance(route, APIRoute) and _uses_request_session(route.dependant)


def mount(app: FastAPI) -> None:
    """Every route, in order, behind its authentication: inside the request's own transaction
    where the operation works in one (no second transaction per request), else in a short one
    of its own before the operation's."""
    api = APIRouter()
    # Consecutive routes with the same authentication share one included router (fewer routers
    # to walk when matching a request).
    runs: list[tuple[Callable[..., Caller], list[BaseRoute]]] = []
    for name in RESOURCE_MODULES:
        for route in importlib.import_module(name).router.routes:
            auth = api_key_in_request if runs_in_request_session(route) else current_api_key
            if runs and runs[-1][0] is auth:
                runs[-1][1].append(route)
            else:
                runs.append((auth, [route]))
    for auth, routes in runs:
        group = APIRouter()
        group.routes.extend(routes)
        api.include_router(group, dependencies=[Depends(auth)])
    app.include_router(api)
