"""Codat's paged list envelope: ``results``, ``pageNumber``, ``pageSize``, ``totalResults``, ``_links``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Query
from pydantic import Field

from bankfeeds.errors import BadRequest
from bankfeeds.kit.wire import WireModel

T = TypeVar("T")

MAX_PAGE_SIZE = 5000


@dataclass(frozen=True)
class PageWindow:
    """Which page of which size (the first is 1); every paged surface reads its rows from ``offset``."""

    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True)
class PageParams(PageWindow):
    """Codat's list parameters: the window, the query and the order."""

    query: str | None
    order_by: str | None


def page_params(
    page: Annotated[str | None, Query()] = None,
    page_size: Annotated[str | None, Query(alias="pageSize")] = None,
    query: Annotated[str | None, Query()] = None,
    order_by: Annotated[str | None, Query(alias="orderBy")] = None,
) -> PageParams:
    return PageParams(
        page=_int_param("page", page, default=1, low=1, high=2**31 - 1),
        page_size=_int_param("pageSize", page_size, default=100, low=1, high=MAX_PAGE_SIZE),
        query=query or None,
        order_by=order_by or None,
    )


def _int_param(name: str, raw: str | None, *, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a whole number, not '{raw}'.") from None
    if not low <= value <= high:
        raise BadRequest(f"'{name}' must be between {low} and {high}.")
    return value


def envelope(path: str, params: PageParams, results: list[Any], total: int) -> dict[str, Any]:
    """The list envelope, with HAL links that keep the caller's query and order."""

    def href(page: int) -> str:
        q: dict[str, Any] = {"page": page, "pageSize": params.page_size}
        if params.query:
            q["query"] = params.query
        if params.order_by:
            q["orderBy"] = params.order_by
        return f"{path}?{urlencode(q)}"

    links: dict[str, Any] = {"self": {"href": path}, "current": {"href": href(params.page)}}
    if params.page * params.page_size < total:
        links["next"] = {"href": href(params.page + 1)}
    if params.page > 1:
        links["previous"] = {"href": href(params.page - 1)}
    return {
        "results": results,
        "pageNumber": params.page,
        "pageSize": params.page_size,
        "totalResults": total,
        "_links": links,
    }


class HalRef(WireModel):
    href: str


class Links(WireModel):
    self: HalRef
    current: HalRef
    next: HalRef | None = None
    previous: HalRef | None = None


class Page(WireModel, Generic[T]):
    """The envelope :func:`envelope` builds, for the OpenAPI document: subclass it per resource
    (``class Companies(Page[CompanyOut])``) so the document names it as the vendor does."""

    results: list[T]
    page_number: int
    page_size: int
    total_results: int
    links: Links = Field(alias="_links")
