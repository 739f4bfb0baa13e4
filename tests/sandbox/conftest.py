from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.sandbox.live_hub import Hub, live_hub


@pytest.fixture
def hub(database: Database, db_url: str, clock: FrozenClock, api_key: str) -> Iterator[Hub]:
    """The hub (with the sandbox mounted) on a real port, in demo mode so the clock can move."""
    with live_hub(database, db_url, clock, api_key, demo=True) as h:
        yield h


@pytest.fixture
def browser(hub: Hub) -> Iterator[httpx.Client]:
    """A cookie-keeping HTTP client for the sandbox's pages (no redirects followed)."""
    with httpx.Client(base_url=hub.url, timeout=30, follow_redirects=False) as c:
        yield c
