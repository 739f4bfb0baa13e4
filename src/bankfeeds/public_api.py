"""The public API: Codat's Bank Feeds API, authenticated with an API key on every route."""

from __future__ import annotations

import importlib

from fastapi import APIRouter, Depends, FastAPI

from bankfeeds.api_keys.deps import current_api_key

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


def mount(app: FastAPI) -> None:
    api = APIRouter(dependencies=[Depends(current_api_key)])
    for name in RESOURCE_MODULES:
        api.include_router(importlib.import_module(name).router)
    app.include_router(api)
