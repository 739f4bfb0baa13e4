from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.sandbox.live_hub import Hub, live_hub


@pytest.fixture
def hub(database: Database, db_url: str, clock: FrozenClock, api_key: str) -> Iterator[Hub]:
    """The hub with the demo bank mounted, on a real port; the bank holds a real API key."""
    with live_hub(database, db_url, clock, api_key, demo=True) as h:
        h.app.state.demo_bank.api_key = SecretStr(api_key)
        yield h


@pytest.fixture
def browser(hub: Hub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.url, timeout=30, follow_redirects=False) as c:
        yield c
