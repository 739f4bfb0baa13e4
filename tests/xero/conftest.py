"""Hub-side Xero tests: the hub and a standalone Xero sandbox over real HTTP, on one FrozenClock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.app import make_settings
from tests.fixtures.xero_sandbox import XeroSandboxServer, clear_xero_tables, running_xero_sandbox, xero_sandbox_db_url
from tests.fixtures.xero_spec import SpecCheck

__all__ = ["xero_sandbox_db_url"]


@pytest.fixture
def xero(xero_sandbox_db_url: str, clock: FrozenClock) -> Iterator[XeroSandboxServer]:
    """The Xero sandbox, on the hub's own clock: moving ``clock`` moves Xero's time too."""
    database = Database(xero_sandbox_db_url)
    try:
        with running_xero_sandbox(database, clock=clock) as server:
            yield server
    finally:
        clear_xero_tables(database)
        database.dispose()


@pytest.fixture
def settings(db_url: str, xero: XeroSandboxServer) -> Settings:
    return make_settings(
        db_url, xero_client_id=xero.client_id, xero_client_secret=xero.client_secret,
        xero_authorize_url=xero.authorize_url, xero_token_url=xero.token_url,
        xero_revoke_url=xero.revocation_url, xero_api_url=xero.api_url,
    )


@pytest.fixture
def spec_check(settings: Settings) -> Iterator[SpecCheck]:
    """Holds every request the hub sends to Xero against Xero's specs; the test ends with none refused."""
    check = SpecCheck(settings.xero_api_url, settings.xero_token_url, settings.xero_revoke_url)
    yield check
    assert check.violations == [], "\n".join(check.violations)
