"""What differs per accounting platform: identity, write rules, field handling."""

from __future__ import annotations

from bankfeeds.platforms.base import Platform
from bankfeeds.platforms.gbol import XERO
from bankfeeds.platforms.hcws import QUICKBOOKS

PLATFORMS: dict[str, Platform] = {p.key: p for p in (QUICKBOOKS, XERO)}


def valid_keys() -> list[str]:
    return sorted(PLATFORMS)
