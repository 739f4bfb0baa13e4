"""Hot-path statements compiled once and run on the session's own driver connection.

SQLAlchemy spends a few hundred microseconds of Python on each statement it runs (building it, its
cache key, the execution context, the ORM's unit of work for a flushed object); a push runs a few
fixed-shape statements, so those are compiled here once per dialect and sent on the session's DBAPI
cursor, in its transaction. The values go through the columns' own bind processors (the same ones
SQLAlchemy applies), so what is stored is identical, and what is read through their result
processors, so it reads as SQLAlchemy would read it; a driver error is raised as SQLAlchemy would
raise it (``IntegrityError``, ``OperationalError`` ...), so the same handlers apply.

On PostgreSQL each statement is a round trip costing ~60 µs of this process's CPU and the server's
own work, so the writes that end a push (its operation, its event, the account's new balance) can
be sent together: inside :func:`batched` a :class:`DriverStatement` is queued, and the queue goes
as one statement when the block ends (each write but the last a data-modifying ``WITH`` query of
the last: PostgreSQL runs them all, in one snapshot, with foreign keys checked at the end).
Anything that reads in the transaction sends the queue first. A write whose outcome the caller
assumes (an insert of rows taken as new) can go in the same statement (:func:`queue_checked`),
the statement then reading how many rows it wrote, checked when it comes back.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Dialect, Insert, Select, Table, Update, bindparam, event, insert, inspect, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.util import await_only

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
        """Run it in the session's transaction, with ``values`` by column name (inside
        :func:`batched`: queued, sent with the batch)."""
        batch: _Batch | None = session.info.get(_BATCH)
        if batch is not None:
            batch.add(session, self, values)
            return
        connection = session.connection()
        compiled = self._for(connection.dialect)
        _run(connection, compiled.sql, _params(compiled, values)).close()


def _params(compiled: _Compiled, values: Mapping[str, Any]) -> Any:
    if compiled.positional:
        return tuple(process(values[column]) for _, column, process in compiled.params)
    return {name: process(values[column]) for name, column, process in compiled.params}


_BATCH = "bankfeeds.driver_sql.batch"
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class _Batch:
    """Writes queued in one transaction (and savepoint: a queued write must not cross one)."""

    def __init__(self, savepoint: SessionTransaction | None) -> None:
        self.savepoint = savepoint
        self.writes: list[tuple[DriverStatement, Mapping[str, Any]]] = []
        # Writes with RETURNING whose row count is known beforehand: (query, values, rows).
        self.checked: list[tuple[DriverQuery, Mapping[str, Any], int]] = []

    def add(self, session: Session, statement: DriverStatement, values: Mapping[str, Any]) -> None:
        self._same_savepoint(session)
        self.writes.append((statement, values))

    def add_checked(self, session: Session, query: DriverQuery, values: Mapping[str, Any], rows: int) -> None:
        self._same_savepoint(session)
        self.checked.append((query, values, rows))

    def _same_savepoint(self, session: Session) -> None:
        if session.get_nested_transaction() is not self.savepoint:
            raise RuntimeError("a savepoint began or ended while driver writes were queued (driver_sql.batched)")

    def send(self, session: Session) -> None:
        """The queued writes, as one statement; the queue is then empty. ``NotAsExpected`` if a
        checked write returned another number of rows than it was queued with (its writes and the
        others' went: the transaction is to be rolled back)."""
        if not self.writes and not self.checked:
            return
        self._same_savepoint(session)
        writes, self.writes = self.writes, []
        checked, self.checked = self.checked, []
        connection = session.connection()
        dialect = connection.dialect
        compiled = [statement._for(dialect) for statement, _ in writes]
        if len(writes) == 1 and not checked:
            _run(connection, compiled[0].sql, _params(compiled[0], writes[0][1])).close()
            return
        queries = [query._for(dialect) for query, _, _ in checked]
        sql = _combined(dialect, tuple(statement for statement, _ in writes), compiled,
                        tuple(query for query, _, _ in checked), queries)
        params: dict[str, Any] = {}
        for n, (query, (_, values, _)) in enumerate(zip(queries, checked, strict=True)):
            params.update({f"c{n}_{name}": value for name, value in query.bound(values)})
        for n, (one, (_, values)) in enumerate(zip(compiled, writes, strict=True)):
            params.update({f"w{n}_{name}": value for name, value in _params(one, values).items()})
        if not checked:
            _run(connection, sql, params).close()
            return
        cursor, rows = _run(connection, sql, params, rows=True)
        cursor.close()
        for (_, _, expected), found in zip(checked, rows[0], strict=True):
            if found != expected:
                raise NotAsExpected(f"a checked write returned {found} rows, not {expected}")


class NotAsExpected(Exception):
    """A write queued with :func:`queue_checked` did not return the rows it was expected to."""


# Per dialect: the SQL of each sequence of statements sent together.
_Sent = tuple[tuple["DriverStatement", ...], tuple["DriverQuery", ...]]
_COMBINED: weakref.WeakKeyDictionary[Dialect, dict[_Sent, str]] = weakref.WeakKeyDictionary()


def _combined(
    dialect: Dialect, statements: tuple[DriverStatement, ...], compiled: list[_Compiled],
    checks: tuple[DriverQuery, ...] = (), queries: Sequence[_CompiledQuery] = (),
) -> str:
    """PostgreSQL: the statements as one, each but the last a ``WITH`` query (bind names prefixed
    by the statement's place). With checked writes, every write is a ``WITH`` query and the
    statement reads the number of rows each checked write returned."""
    known = _COMBINED.setdefault(dialect, {})
    key = (statements, checks)
    found = known.get(key)
    if found is None:
        assert not any(one.positional for one in [*compiled, *queries])
        texts = [_PLACEHOLDER.sub(rf"%(w{n}_\1)s", one.sql) for n, one in enumerate(compiled)]
        if not checks:
            found = "WITH " + ", ".join(f"w{n} AS ({text})" for n, text in enumerate(texts[:-1])) + " " + texts[-1]
        else:
            counted = [_PLACEHOLDER.sub(rf"%(c{n}_\1)s", one.sql) for n, one in enumerate(queries)]
            found = (
                "WITH " + ", ".join([*(f"c{n} AS ({text})" for n, text in enumerate(counted)),
                                     *(f"w{n} AS ({text})" for n, text in enumerate(texts))])
                + " SELECT " + ", ".join(f"(SELECT count(*) FROM c{n})" for n in range(len(counted))))
        known[key] = found
    return found


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Inside the block, :class:`DriverStatement` writes in ``session`` are queued and sent as one
    statement when it ends (PostgreSQL; elsewhere, where a statement costs little, they run at
    once). A :class:`DriverQuery`, an ORM execution or flush, or the commit sends the queue first,
    so nothing reads around a queued write. A block left by an exception leaves its queue to the
    commit (as if each write had run) or to the rollback, which drops it. No savepoint may begin
    or end while a write is queued (``RuntimeError``): it would take the write in or out of it."""
    if session.get_bind().dialect.name != "postgresql" or _BATCH in session.info:
        yield
        return
    batch = session.info[_BATCH] = _Batch(session.get_nested_transaction())
    try:
        yield
    except BaseException:
        session.info.pop(_BATCH, None)
        if batch.writes:
            session.info.setdefault(_LEFT, []).append(batch)
        raise
    session.info.pop(_BATCH, None)
    batch.send(session)


def queue_checked(session: Session, query: DriverQuery, values: Mapping[str, Any], rows: int) -> bool:
    """Inside :func:`batched` (PostgreSQL): queue ``query``, a write whose RETURNING gives a row per
    row written, to go with the block's other writes, in the same statement; when it goes, it must
    have returned ``rows`` rows, else ``NotAsExpected`` is raised (every queued write went: the
    transaction is to be rolled back). For a caller that assumes an outcome (every row new) and
    acts on it before the write goes, one round trip fewer. False (nothing queued) outside a
    batch: the caller then runs the query."""
    batch: _Batch | None = session.info.get(_BATCH)
    if batch is None:
        return False
    batch.add_checked(session, query, values, rows)
    return True


_LEFT = "bankfeeds.driver_sql.left"


def _queued(session: Session) -> list[_Batch]:
    info = session.info
    if _BATCH not in info and _LEFT not in info:
        return []
    found: list[_Batch] = [*info.get(_LEFT, ()), *([info[_BATCH]] if _BATCH in info else [])]
    return [batch for batch in found if batch.writes or batch.checked]


@event.listens_for(Session, "before_commit")
def send_queued(session: Session) -> None:
    """Send what :func:`batched` queued in ``session`` so far (before anything reads)."""
    for batch in _queued(session):
        batch.send(session)


@event.listens_for(Session, "before_flush")
def _send_before_flush(session: Session, *_: Any) -> None:
    send_queued(session)


@event.listens_for(Session, "do_orm_execute")
def _send_before_execute(state: Any) -> None:
    send_queued(state.session)


@event.listens_for(Session, "after_transaction_create")
def _no_savepoint_over_queued(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested and _queued(session):
        raise RuntimeError("a savepoint began while driver writes were queued (driver_sql.batched)")


@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_commit")
def _drop(session: Session) -> None:
    session.info.pop(_BATCH, None)
    session.info.pop(_LEFT, None)


class InstanceInsert:
    """A :class:`DriverStatement` INSERT that takes its values from an instance of the mapped class."""

    def __init__(self, statement: DriverStatement, attributes: Sequence[tuple[str, str]]) -> None:
        self.statement = statement
        self.attributes = list(attributes)  # (column name, attribute name)

    def add(self, session: Session, instance: Any) -> None:
        """Write ``instance`` now, in the session's transaction; it stays out of the session."""
        self.statement.execute(session, {c: getattr(instance, a) for c, a in self.attributes})


def _run(connection: Connection, sql: str, params: Any, *, rows: bool = False) -> Any:
    """``sql`` on the connection's driver connection, in its transaction: the open cursor, and with
    ``rows`` the rows it returned (``(cursor, rows)``)."""
    record = connection.connection
    driver = record.dbapi_connection
    assert driver is not None
    cursor = _Awaited.of(record, sql) if connection.dialect.is_async else driver.cursor()
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        cursor.execute(sql, params)
        if rows:
            return cursor, cursor.fetchall()
    except dbapi_error as err:
        cursor.close()
        lost = connection.dialect.is_disconnect(err, driver, None)
        if lost:
            # As SQLAlchemy treats a lost connection: this one is thrown away, and so is every
            # connection the pool holds (a database restart ended them all).
            connection.invalidate(err)
            connection.engine.dispose(close=False)
        raise DBAPIError.instance(sql, params, err, dbapi_error, dialect=connection.dialect,
                                  connection_invalidated=lost) from err
    return cursor


_CURSORS = "bankfeeds.driver_sql.cursors"


class _Awaited:
    """An async driver's cursor (psycopg's) used from SQLAlchemy's greenlet, each call awaited
    there, as SQLAlchemy's own adapter does, but kept: one per driver connection and statement,
    so the driver prepares its adapters for the statement's values once (psycopg makes them anew
    for each new cursor or statement). ``close`` leaves it open for the statement's next run."""

    __slots__ = ("cursor",)

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    @classmethod
    def of(cls, record: Any, sql: str) -> _Awaited:
        raw = record.driver_connection
        found: tuple[Any, dict[str, _Awaited]] | None = record.info.get(_CURSORS)
        if found is None or found[0] is not raw:
            found = record.info[_CURSORS] = (raw, {})
        cursor = found[1].get(sql)
        if cursor is None:
            cursor = found[1][sql] = cls(raw.cursor())
        return cursor

    def execute(self, sql: str, params: Any) -> None:
        await_only(self.cursor.execute(sql, params))

    def fetchall(self) -> list[Any]:
        return cast(list[Any], await_only(self.cursor.fetchall()))

    @property
    def description(self) -> Any:
        return self.cursor.description

    def close(self) -> None:
        pass


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
        self.results: list[tuple[int, Processor]] | None = None

    def bound(self, values: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """The bind parameters' values, in order, as the driver takes them."""
        return [(name, process(values[name] if fixed is _GIVEN else fixed)) for name, process, fixed in self.params]

    def processors(self, cursor: Any, dialect: Dialect) -> list[tuple[int, Processor]]:
        """The result columns that have a processor, by place (the others' values are taken as read)."""
        if self.results is None:
            # Read once: psycopg builds a cursor's description anew at each read (~0.1 ms for a wide row).
            found = [t.result_processor(dialect, d[1]) for t, d in zip(self.types, cursor.description, strict=True)]
            self.results = [(i, p) for i, p in enumerate(found) if p is not None]
        return self.results


def _processed(row: Sequence[Any], processors: list[tuple[int, Processor]]) -> tuple[Any, ...]:
    values = list(row)
    for i, process in processors:
        values[i] = process(values[i])
    return tuple(values)


def filled(cls: type[T], values: Mapping[str, Any]) -> T:
    """A new instance of the mapped ``cls`` holding ``values``, filled as the ORM's loader fills a
    row's instance: straight into its dict, no attribute events, no history (transient)."""
    instance = inspect(cls).class_manager.new_instance()
    instance.__dict__.update(values)
    return cast(T, instance)


def loaded(
    session: Session, cls: type[T], values: Mapping[str, Any], *, refresh: bool = False, attach: bool = True,
) -> T:
    """An instance of the mapped ``cls`` holding ``values`` (every column attribute, as read by a
    :class:`DriverQuery`), in ``session`` as if the ORM had loaded it: persistent, no pending change,
    relationships loaded on access. The session's own copy when it holds one already; with
    ``refresh``, that copy takes ``values`` as loaded (a row read again under a lock).

    ``attach=False``: left out of the session (detached, as after the session closed): its columns
    read as given, a relationship not at all (``DetachedInstanceError``), for a caller that reads
    only columns and wants none of the session's bookkeeping (adding an instance walks its mapper's
    properties for cascades: a third of a push's reads of its target)."""
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
    instance = filled(cls, values)
    make_transient_to_detached(instance)  # committed as loaded
    if attach:
        session.add(instance)
    return instance


_PRIMARY_KEYS: dict[Any, tuple[str, ...]] = {}


class DriverQuery:
    """A SELECT (of columns, not ORM entities), or a textual statement with its result columns
    declared (``text(...).columns(...)``, e.g. INSERT ... RETURNING), whose rows come back as tuples
    of Python values."""

    def __init__(self, statement: Query) -> None:
        self.statement = statement
        self._compiled: weakref.WeakKeyDictionary[Dialect, _CompiledQuery] = weakref.WeakKeyDictionary()

    def _for(self, dialect: Dialect) -> _CompiledQuery:
        compiled = self._compiled.get(dialect)
        if compiled is None:
            compiled = self._compiled[dialect] = _CompiledQuery(self.statement, dialect)
        return compiled

    def all(self, session: Session, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows, run in the session's transaction with ``values`` by bind parameter name."""
        send_queued(session)
        connection = session.connection()
        dialect = connection.dialect
        compiled = self._for(dialect)
        given = compiled.bound(values)
        params: Any = tuple(value for _, value in given) if compiled.positional else dict(given)
        cursor, raw = _run(connection, compiled.sql, params, rows=True)
        try:
            processors = compiled.processors(cursor, dialect)
        finally:
            cursor.close()
        return [_processed(row, processors) for row in raw] if processors else [tuple(row) for row in raw]

    def first(self, session: Session, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self.all(session, values)
        return rows[0] if rows else None
