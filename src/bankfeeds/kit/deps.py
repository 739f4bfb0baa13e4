"""Dependency aliases for endpoints: the unit of work, the clock, the settings; path ids as UUIDs."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, cast

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.errors import NotFound
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database


def get_database(request: Request) -> Database:
    return cast(Database, request.app.state.database)


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (scope="function")."""
    with get_database(request).unit_of_work() as session:
        yield session


def get_clock(request: Request) -> Clock:
    return cast(Clock, request.app.state.clock)


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]


def uuid_path(name: str, description: str, not_found: str) -> Any:
    """A dependency that reads the path parameter ``name`` as a UUID, once for the route.

    A malformed id names nothing, so it is answered like an unknown one: ``NotFound(not_found)``,
    ``{id}`` in it replaced by (the start of) the id as given.
    """

    def parse(**params: str) -> uuid.UUID:
        raw = params[name]
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise NotFound(not_found.format(id=raw[:100])) from None

    parameter = inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[str, Path(description=description, json_schema_extra={"format": "uuid"})],
    )
    parse.__signature__ = inspect.Signature([parameter], return_annotation=uuid.UUID)  # type: ignore[attr-defined]
    return Depends(parse)
