"""The institutions a sandbox user can search for, each with the IDX endpoint QuickBooks pulls from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bankfeeds.config import Settings

IDX_PATH = "/partners/intuit/idx"


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "institution"


@dataclass(frozen=True)
class Institution:
    name: str
    idx_url: str
    partner_key: str = field(repr=False)

    @property
    def slug(self) -> str:
        return slugify(self.name)


class Directory:
    def __init__(self, institutions: list[Institution]) -> None:
        self._by_slug = {i.slug: i for i in institutions}

    def all(self) -> list[Institution]:
        return sorted(self._by_slug.values(), key=lambda i: i.name.lower())

    def search(self, text: str) -> list[Institution]:
        words = [w for w in re.split(r"\s+", text.lower().strip()) if w]
        return [i for i in self.all() if all(w in i.name.lower() for w in words)]

    def get(self, slug: str) -> Institution | None:
        return self._by_slug.get(slug)


def idx_url_for(hub_url: str) -> str:
    base = hub_url.rstrip("/")
    return base if base.endswith(IDX_PATH) else base + IDX_PATH


def hub_directory(settings: Settings) -> Directory:
    """Mounted in the hub: one institution, the hub's own, reached at its public URL."""
    return Directory([
        Institution(settings.institution_name, idx_url_for(settings.public_url), settings.idx_partner_key)
    ])
