"""Hot-path writes compiled once and run on the session's own driver connection.

SQLAlchemy spends a few hundred microseconds of Python on each statement it runs (building it, its
cache key, the execution context, the ORM's unit of work for a flushed object); a push runs a few
fixed-shape writes, so those are compiled here once per dialect and sent on the session's DBAPI
cursor, in its transaction. The values go through the columns' own bind processors (the same ones
SQLAlchemy applies), so what is stored is identical; a driver error is raised as SQLAlchemy would
raise it (``IntegrityError``, ``OperationalError`` ...), so the same handlers apply.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Dialect, Insert, Table, Update, bindparam, insert, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

Processor = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


class _Compiled:
    """One dialect's SQL text and, per bind parameter in order, its value's column and bind processor."""

    def __init__(self, statement: Insert | Update, table: Table, columns: Mapping[str, str], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        names: Sequence[str] = (compiled.positiontup or []) if self.positional else list(compiled.binds)
        self.params: list[tuple[str, str, Processor]] = []
        for name in names:
            column = columns[name]
            process = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
            self.params.append((name, column, process if process is not None else _same))


class DriverStatement:
    """An INSERT of given columns, or an UPDATE of given columns by primary key, of one table."""

    def __init__(self, statement: Insert | Update, table: Table, columns: Mapping[str, str]) -> None:
        self.statement = statement
        self.table = table
        # bind parameter name -> the column whose value (and type) it takes
        self.columns = dict(columns)
        self._compiled: weakref.WeakKeyDictionary[Dialect, _Compiled] = weakref.WeakKeyDictionary()

    @classmethod
    def insert(cls, table: Table, columns: Sequence[str]) -> DriverStatement:
        return cls(insert(table).values({name: bindparam(name) for name in columns}), table,
                   {name: name for name in columns})

    @classmethod
    def update(cls, table: Table, columns: Sequence[str]) -> DriverStatement:
        """``UPDATE table SET columns WHERE pk = ...``; the key's value is given under its column name."""
        (key,) = table.primary_key.columns
        where = "where_" + key.name
        return cls(
            update(table).where(key == bindparam(where)).values({name: bindparam(name) for name in columns}),
            table,
            {where: key.name, **{name: name for name in columns}},
        )

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect)
        if found is None:
            found = self._compiled[dialect] = _Compiled(self.statement, self.table, self.columns, dialect)
        return found

    def execute(self, session: Session, values: Mapping[str, Any]) -> None:
        """Run it in the session's transaction, with ``values`` by column name."""
        connection = session.connection()
        compiled = self._for(connection.dialect)
        if compiled.positional:
            params: Any = tuple(process(values[column]) for _, column, process in compiled.params)
        else:
            params = {name: process(values[column]) for name, column, process in compiled.params}
        driver = connection.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        dbapi_error = connection.dialect.loaded_dbapi.Error
        try:
            cursor.execute(compiled.sql, params)
        except dbapi_error as err:
            raise DBAPIError.instance(compiled.sql, params, err, dbapi_error, dialect=connection.dialect) from err
        finally:
            cursor.close()
