"""Dependency aliases for endpoints: the unit of work, the clock, the settings; path ids as UUIDs.

FastAPI runs every plain ``def`` dependency in its threadpool: a thread hop (a queue put, a
wake-up, the GIL handed over and back) per dependency per request. The ones below that only read
the app's state are ``async`` (no hop); the unit of work is an async generator whose session is
made on the event loop (no I/O: it connects on first use, in the endpoint's thread) and whose
commit runs in the threadpool, one hop.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

import anyio
from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bankfeeds.config import Settings
from bankfeeds.errors import NotFound
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database, committing


def get_database(request: Request) -> Database:
    return cast(Database, request.app.state.database)


def get_clock(request: Request) -> Clock:
    return cast(Clock, request.app.state.clock)


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed before the response is sent (scope="function").

    The work (the session's queries) runs in the endpoint's and the sync dependencies' threads;
    the commit, or the rollback when they raised, in the threadpool too (never on the event loop).
    """
    session = get_database(request).sessions()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):  # a cancelled request still ends its transaction
            await run_in_threadpool(_rollback_and_close, session)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_commit_and_close, session)


def _commit_and_close(session: Session) -> None:
    with committing(session):  # committed (rolled back if the commit fails), then closed
        pass


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def _database_dep(request: Request) -> Database:
    return get_database(request)


async def _clock_dep(request: Request) -> Clock:
    return get_clock(request)


async def _settings_dep(request: Request) -> Settings:
    return get_settings(request)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(_clock_dep)]
SettingsDep = Annotated[Settings, Depends(_settings_dep)]
DatabaseDep = Annotated[Database, Depends(_database_dep)]


def parse_uuid(raw: str, not_found: str) -> uuid.UUID:
    """``raw`` as a UUID; one that is none names nothing: ``NotFound(not_found)``, ``{id}`` in it
    replaced by (the start of) ``raw``."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(not_found.format(id=raw[:100])) from None


def uuid_path(name: str, description: str, not_found: str) -> Any:
    """A dependency that reads the path parameter ``name`` as a UUID, once for the route.

    A malformed id names nothing, so it is answered like an unknown one (:func:`parse_uuid`).
    """

    async def parse(**params: str) -> uuid.UUID:
        return parse_uuid(params[name], not_found)

    parameter = inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[str, Path(description=description, json_schema_extra={"format": "uuid"})],
    )
    parse.__signature__ = inspect.Signature([parameter], return_annotation=uuid.UUID)  # type: ignore[attr-defined]
    return Depends(parse)
