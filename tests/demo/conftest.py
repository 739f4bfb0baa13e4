from __future__ import annotations

from tests.sandbox.live_hub import browser, hub_fixture

__all__ = ["browser", "hub"]

# The hub with the demo bank mounted, on a real port; the bank holds a real API key.
hub = hub_fixture(demo_bank_key=True)
