"""What differs per accounting platform: one module per platform, one interface (``base.Platform``).

A third platform is one new module named in ``MODULES`` that exposes ``PLATFORM``. Modules are
imported on first use, so a platform's module may use any service (connections, source accounts,
webhooks) while those services look platforms up here without an import cycle.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from functools import cache

from bankfeeds.platforms.base import Platform

MODULES: dict[str, str] = {
    "hcws": "bankfeeds.platforms.hcws",
    "gbol": "bankfeeds.platforms.gbol",
}


@cache
def get(key: str) -> Platform:
    platform = importlib.import_module(MODULES[key]).PLATFORM
    if not isinstance(platform, Platform) or platform.key != key:
        raise TypeError(f"{MODULES[key]}.PLATFORM is not the {key} platform")
    return platform


class _Registry(Mapping[str, Platform]):
    def __getitem__(self, key: str) -> Platform:
        if key not in MODULES:
            raise KeyError(key)
        return get(key)

    def __iter__(self) -> Iterator[str]:
        return iter(MODULES)

    def __len__(self) -> int:
        return len(MODULES)


PLATFORMS: Mapping[str, Platform] = _Registry()


def valid_keys() -> list[str]:
    return sorted(MODULES)
