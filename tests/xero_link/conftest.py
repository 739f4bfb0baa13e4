"""The hub's Xero (gbol) linking and mapping, against the Xero sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bankfeeds.app import create_app
from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.app import make_settings
from tests.fixtures.xero_sandbox import (  # noqa: F401 (fixtures)
    XeroSandboxServer,
    xero_sandbox,
    xero_sandbox_db_url,
)


@pytest.fixture
def settings(db_url: str, xero_sandbox: XeroSandboxServer) -> Settings:  # noqa: F811
    return make_settings(
        db_url, xero_client_id=xero_sandbox.client_id, xero_client_secret=xero_sandbox.client_secret,
        xero_authorize_url=xero_sandbox.authorize_url, xero_token_url=xero_sandbox.token_url,
        xero_revoke_url=xero_sandbox.revocation_url, xero_api_url=xero_sandbox.api_url,
    )


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, database: Database) -> FastAPI:
    return create_app(settings, clock=clock, database=database, run_worker=False)


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    """The SMB's browser on the hub's hosted pages (cookies kept, redirects not followed)."""
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as c:
        yield c


@pytest.fixture
def xero_browser() -> Iterator[httpx.Client]:
    """The same SMB's browser on the Xero sandbox's sign-in and consent pages."""
    with httpx.Client(follow_redirects=False, timeout=30) as c:
        yield c


