"""Dependency aliases for endpoints: the unit of work, the clock, the settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from bankfeeds.config import Settings
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
