"""Wire shapes of companies, to the letter of Codat's spec (``Company``, ``CompanyRequestBody``...)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from bankfeeds.connections.schemas import ConnectionOut
from bankfeeds.kit.pagination import Page
from bankfeeds.kit.wire import WireModel

# Codat silently strips characters outside its name pattern: "Company (Codat[1])" -> "Company Codat1".
_NAME_FORBIDDEN = re.compile(r"[^A-Za-z0-9\s\-',&@.?!]")

TagKey = Annotated[str, StringConstraints(min_length=1, max_length=27)]
TagValue = Annotated[str, StringConstraints(max_length=100)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=10)]


def clean_name(value: str) -> str:
    cleaned = _NAME_FORBIDDEN.sub("", value).strip()
    if not cleaned:
        raise ValueError("name must contain at least one letter, digit or allowed punctuation")
    return cleaned


class CompanyRequestBody(WireModel):
    name: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=4000)
    tags: Tags | None = None
    # Legacy: Codat's use-case docs create the company and its connection in one call.
    platform_type: str | None = None

    _clean = field_validator("name")(clean_name)

    @field_validator("description", "tags", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # The spec types them string and object; leave them out rather than send null.
        if value is None:
            raise ValueError("must be left out rather than null")
        return value


class CompanyUpdateRequest(WireModel):
    name: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=4000)
    tags: Tags | None = None

    @field_validator("name")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return None if value is None else clean_name(value)


class CompanyOut(WireModel):
    id: str
    name: str
    description: str | None
    platform: str = ""
    redirect: str
    last_sync: datetime | None
    created: datetime
    created_by_user_name: str | None
    products: list[str]
    tags: dict[str, Any]
    owner_user_ids: list[str] = Field(default_factory=list)
    reference_subsidiary_companies: list[Any] = Field(default_factory=list)
    data_connections: list[ConnectionOut]


class Companies(Page[CompanyOut]):
    """list-companies."""
