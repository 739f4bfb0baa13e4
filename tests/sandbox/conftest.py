from __future__ import annotations

from tests.sandbox.live_hub import browser, hub_fixture

__all__ = ["browser", "hub"]

# The hub (with the sandbox mounted) on a real port, in demo mode so the clock can move.
hub = hub_fixture()
