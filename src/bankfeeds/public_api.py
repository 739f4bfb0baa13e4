"""The public API: Codat's Bank Feeds API, authenticated with an API key on every route."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from bankfeeds.api_keys.deps import api_key_in_request, current_api_key
from bankfeeds.kit.deps import get_session
from bankfeeds.models import ApiKey

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
    runs: list[tuple[Callable[..., ApiKey], list[BaseRoute]]] = []
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
