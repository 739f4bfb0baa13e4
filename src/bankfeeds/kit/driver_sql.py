"""Hot-path statements compiled once and run on the session's own driver connection.

SQLAlchemy spends a few hundred microseconds of Python on each statement it runs (building it, its
cache key, the execution context, the ORM's unit of work for a flushed object); a push runs a few
fixed-shape statements, so those are compiled here once per dialect and sent on the session's DBAPI
cursor, in its transaction. The values go through the columns' own bind processors (the same ones
SQLAlchemy applies), so what is stored is identical, and what is read through their result
processors, so it reads as SQLAlchemy would read it; a driver error is raised as SQLAlchemy would
raise it (``IntegrityError``, ``OperationalError`` ...), so the same handlers apply.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Dialect, Insert, Select, Table, Update, bindparam, insert, inspect, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.selectable import TextualSelect

Processor = Callable[[Any], Any]
Query = Select[*tuple[Any, ...]] | TextualSelect
T = TypeVar("T")
_GIVEN = object()  # a bind parameter whose value the caller gives


def _same(value: Any) -> Any:
    return value


class _Text:
    """A statement compiled for one dialect: its SQL and its bind parameters' names, in the order
    the driver takes them."""

    def __init__(self, statement: Insert | Update | Query, dialect: Dialect) -> None:
        self.compiled = statement.compile(dialect=dialect)
        self.sql = self.compiled.string
        self.positional = bool(self.compiled.positional)
        self.names: Sequence[str] = (
            (self.compiled.positiontup or []) if self.positional else list(self.compiled.binds))


class _Compiled(_Text):
    """One dialect's SQL text and, per bind parameter in order, its value's column and bind processor."""

    def __init__(self, statement: Insert | Update, table: Table, columns: Mapping[str, str], dialect: Dialect) -> None:
        super().__init__(statement, dialect)
        self.params: list[tuple[str, str, Processor]] = []
        for name in self.names:
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
    def insert_of(cls, model: type[Any], *, skip: Sequence[str] = ()) -> InstanceInsert:
        """An INSERT of every mapped column of ``model`` but ``skip`` (column names)."""
        pairs = [(prop.columns[0].name, prop.key) for prop in inspect(model).column_attrs
                 if prop.columns[0].name not in skip]
        return InstanceInsert(cls.insert(cast(Table, model.__table__), [c for c, _ in pairs]), pairs)

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
        _run(connection, compiled.sql, params).close()


class InstanceInsert:
    """A :class:`DriverStatement` INSERT that takes its values from an instance of the mapped class."""

    def __init__(self, statement: DriverStatement, attributes: Sequence[tuple[str, str]]) -> None:
        self.statement = statement
        self.attributes = list(attributes)  # (column name, attribute name)

    def add(self, session: Session, instance: Any) -> None:
        """Write ``instance`` now, in the session's transaction; it stays out of the session."""
        self.statement.execute(session, {c: getattr(instance, a) for c, a in self.attributes})


def _run(connection: Connection, sql: str, params: Any) -> Any:
    """``sql`` on the connection's driver connection, in its transaction: the open cursor."""
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        cursor.execute(sql, params)
    except dbapi_error as err:
        cursor.close()
        raise DBAPIError.instance(sql, params, err, dbapi_error, dialect=connection.dialect) from err
    return cursor


class _CompiledQuery(_Text):
    def __init__(self, statement: Query, dialect: Dialect) -> None:
        super().__init__(statement, dialect)
        # (name, processor, the statement's own value for a parameter it fixes, e.g. LIMIT 1)
        self.params: list[tuple[str, Processor, Any]] = []
        for name in self.names:
            bind = self.compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self.params.append((name, process if process is not None else _same,
                                _GIVEN if bind.required else bind.effective_value))
        self.types = [column.type.dialect_impl(dialect) for column in statement.selected_columns]
        # Result processors depend on the driver's type codes (cursor.description): set on first use.
        self.results: list[Processor] | None = None

    def processors(self, description: Sequence[Any], dialect: Dialect) -> list[Processor]:
        if self.results is None:
            found = [t.result_processor(dialect, d[1]) for t, d in zip(self.types, description, strict=True)]
            self.results = [p if p is not None else _same for p in found]
        return self.results


def loaded(session: Session, cls: type[T], values: Mapping[str, Any], *, refresh: bool = False) -> T:
    """An instance of the mapped ``cls`` holding ``values`` (every column attribute, as read by a
    :class:`DriverQuery`), in ``session`` as if the ORM had loaded it: persistent, no pending change,
    relationships loaded on access. The session's own copy when it holds one already; with
    ``refresh``, that copy takes ``values`` as loaded (a row read again under a lock)."""
    mapper = inspect(cls)
    keys = _PRIMARY_KEYS.get(mapper)
    if keys is None:
        keys = _PRIMARY_KEYS[mapper] = tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key)
    identity = mapper.identity_key_from_primary_key([values[key] for key in keys])
    held = session.identity_map.get(identity)
    if held is not None:
        if refresh:
            for key, value in values.items():
                set_committed_value(held, key, value)
        return cast(T, held)
    # As the ORM's loader fills a row's instance: the values straight into its dict (no attribute
    # events, no history), then committed as loaded.
    instance = mapper.class_manager.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    session.add(instance)
    return cast(T, instance)


_PRIMARY_KEYS: dict[Any, tuple[str, ...]] = {}


class DriverQuery:
    """A SELECT (of columns, not ORM entities), or a textual statement with its result columns
    declared (``text(...).columns(...)``, e.g. INSERT ... RETURNING), whose rows come back as tuples
    of Python values."""

    def __init__(self, statement: Query) -> None:
        self.statement = statement
        self._compiled: weakref.WeakKeyDictionary[Dialect, _CompiledQuery] = weakref.WeakKeyDictionary()

    def all(self, session: Session, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows, run in the session's transaction with ``values`` by bind parameter name."""
        connection = session.connection()
        dialect = connection.dialect
        compiled = self._compiled.get(dialect)
        if compiled is None:
            compiled = self._compiled[dialect] = _CompiledQuery(self.statement, dialect)
        given = [(name, process(values[name] if fixed is _GIVEN else fixed))
                 for name, process, fixed in compiled.params]
        params: Any = tuple(value for _, value in given) if compiled.positional else dict(given)
        cursor = _run(connection, compiled.sql, params)
        try:
            raw = cursor.fetchall()
            processors = compiled.processors(cursor.description, dialect)
        finally:
            cursor.close()
        return [tuple(process(value) for process, value in zip(processors, row, strict=True)) for row in raw]

    def first(self, session: Session, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self.all(session, values)
        return rows[0] if rows else None
