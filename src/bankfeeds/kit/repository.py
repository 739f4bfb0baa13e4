"""The base of every repository (as Polar's ``RepositoryBase``): add a row, read one, read a page.

A repository is built from the session it runs in and never commits: the request, job or command
owns the transaction. :class:`Repository` is that of one table (it names its model and pages it);
:class:`RepositoryBase` that of several (the sandboxes', the demo bank's, the console's). Each keeps
its own queries; these hold only what every one of them wrote again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from bankfeeds.kit.db import Base
from bankfeeds.kit.pagination import PageParams

M = TypeVar("M", bound=Base)
R = TypeVar("R", bound=Base)
T = TypeVar("T")


class RepositoryBase:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: R, *, flush: bool = True) -> R:
        """Into the session; ``flush`` writes it now (its defaults and constraints checked),
        otherwise with the rest of the unit of work."""
        self.session.add(row)
        if flush:
            self.session.flush()
        return row

    def one(self, stmt: Select[T], *, for_update: bool = False, refresh: bool = False) -> T | None:
        """The one row ``stmt`` selects, or None.

        ``for_update`` locks it until the transaction ends (``SELECT ... FOR UPDATE`` on PostgreSQL;
        SQLite renders no lock and needs none: its writers take turns, ``BEGIN IMMEDIATE``);
        ``refresh`` then reads it again over what the session already holds.
        """
        if for_update:
            stmt = stmt.with_for_update()
            if refresh:
                stmt = stmt.execution_options(populate_existing=True)
        return self.session.scalars(stmt).one_or_none()


class Repository(RepositoryBase, Generic[M]):
    model: type[M]

    def statement(self) -> Select[M]:
        """What reads the model's rows (subclasses add what is always loaded with them)."""
        return select(self.model)

    def paginate(
        self, where: Sequence[ColumnElement[bool]], order: Sequence[Any], params: PageParams
    ) -> tuple[list[M], int]:
        """The rows matching ``where`` on ``params``' page, in ``order``, and how many match in all."""
        total = self.session.scalar(select(func.count()).select_from(self.model).where(*where)) or 0
        rows = self.session.scalars(
            self.statement().where(*where).order_by(*order).offset(params.offset).limit(params.page_size)
        )
        return list(rows), total
