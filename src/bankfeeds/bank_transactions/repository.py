from __future__ import annotations

import functools
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import msgspec
from sqlalchemy import Dialect, Select, Table, and_, bindparam, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bankfeeds.api_keys.repository import KEY_COLUMNS, KeyRecord
from bankfeeds.kit.driver_sql import DriverQuery, DriverStatement, loaded, queue_checked
from bankfeeds.models import ApiKey, BankTransaction, Company, Connection, SourceAccount
from bankfeeds.platforms.write_rules import Transaction

# PostgreSQL: the whole batch as one JSON array of rows (encoded by msgspec in C: psycopg's array
# dumpers spent ~9 ms of Python per 1000 rows), one statement, the server taking it apart; the
# unique constraint decides what is new. Unlike a SELECT ... IN for the duplicates, it cannot be
# planned as a scan of the account's rows when the statistics lag behind a fast-growing table.
# Values travel as JSON text and are cast by the column types' own input functions: a Decimal as
# its exact text (numeric), a local date-time as ISO text (timestamp).
_PG_INSERT_NEW = DriverQuery(text(
    """
    INSERT INTO bank_transactions (source_account_id, push_operation_key, modified_at, transaction_id, date,
        description, counterparty, reference, reconciled, amount, balance, transaction_type)
    SELECT CAST(:account AS uuid), CAST(:operation AS uuid), CAST(:modified AS timestamptz),
        r.t->>0, CAST(r.t->>1 AS timestamp), r.t->>2, r.t->>3, r.t->>4, CAST(r.t->>5 AS boolean),
        CAST(r.t->>6 AS numeric), CAST(r.t->>7 AS numeric), r.t->>8
    FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS r(t, n)
    ORDER BY r.n
    ON CONFLICT ON CONSTRAINT uq_bank_transactions_txn DO NOTHING
    RETURNING transaction_id
    """
).columns(BankTransaction.transaction_id))
_ENCODE = msgspec.json.Encoder(decimal_format="string")

_TABLE = cast(Table, BankTransaction.__table__)
_TIP_COLUMNS = ("balance", "newest_transaction_date", "modified_at", "tip_transaction_id", "tip_amount",
                "tip_balance")
_SET_ACCOUNT_TIP = DriverStatement.update(cast(Table, SourceAccount.__table__), _TIP_COLUMNS)


# Every push reads its target: compiled once, run on the driver, every column of the three rows.
_TARGET_ENTITIES: tuple[type[Any], ...] = (Company, Connection, SourceAccount)
_TARGET_ATTRS = [[attr.key for attr in inspect(cls).column_attrs] for cls in _TARGET_ENTITIES]
_TARGET_SELECT = (
    select(*(getattr(cls, key) for cls, keys in zip(_TARGET_ENTITIES, _TARGET_ATTRS, strict=True) for key in keys))
    .select_from(Company)
    .join(Connection, Connection.company_id == Company.id)
    .join(SourceAccount, SourceAccount.connection_id == Connection.id)
    .where(Company.id == bindparam("company"), Connection.id == bindparam("connection"),
           SourceAccount.account_id == bindparam("account"))
)
_TARGET = DriverQuery(_TARGET_SELECT)
# A write's target, locked (PostgreSQL) in one statement: the company FOR KEY SHARE (as a foreign
# key check would take it: a company delete waits, a company update does not), then the account
# FOR UPDATE (writers to one account take turns), in that order, the order a company delete takes
# them in, so the two cannot deadlock. Waiting for the account's lock, PostgreSQL re-reads the row
# as the writer before it committed it (or finds it deleted: no row). SQLite renders neither
# clause: the transaction began with BEGIN IMMEDIATE, so no other writer comes between.
def _for_write(query: Select[*tuple[Any, ...]]) -> DriverQuery:
    return DriverQuery(query.with_for_update(key_share=True, read=True, of=Company)
                       .suffix_with("FOR UPDATE OF source_accounts", dialect="postgresql"))


_TARGET_FOR_WRITE = _for_write(_TARGET_SELECT)


# The same, joined with the caller's API key (by hash, not revoked: a key that is not reads no row
# and takes no lock): a push's authentication and its target in one statement. The key's columns
# come last (``KeyRecord``'s); the key row is read, never locked.
_TARGET_FOR_KEY = _for_write(
    _TARGET_SELECT.add_columns(*KEY_COLUMNS)
    .join(ApiKey, and_(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)))
)


class BankTransactionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def target(
        self, company_id: uuid.UUID, connection_id: uuid.UUID, account_id: str, *, for_write: bool = False
    ) -> tuple[Company, Connection, SourceAccount] | None:
        """The company, its connection and the source account named by a write's path, in one query.

        ``for_write``: locked for a write to the account (``_TARGET_FOR_WRITE``), its rows as they
        stand under the locks.
        """
        query = _TARGET_FOR_WRITE if for_write else _TARGET
        row = query.first(self.session, {"company": company_id, "connection": connection_id, "account": account_id})
        if row is None:
            return None
        return self._loaded(iter(row), refresh=for_write)

    def _loaded(
        self, values: Iterator[Any], *, refresh: bool, attach: bool = True,
    ) -> tuple[Company, Connection, SourceAccount]:
        """The target's three rows from the front of ``values``, in the session as loaded (or, not
        ``attach``, detached: ``driver_sql.loaded``)."""
        company, connection, account = (
            loaded(self.session, cls, dict(zip(keys, values, strict=False)), refresh=refresh, attach=attach)
            for cls, keys in zip(_TARGET_ENTITIES, _TARGET_ATTRS, strict=True))
        return company, connection, account

    def target_for_key(
        self, key_hash: str, company_id: uuid.UUID, connection_id: uuid.UUID, account_id: str,
    ) -> tuple[KeyRecord, Company, Connection, SourceAccount] | None:
        """``target(for_write=True)`` and the unrevoked API key of ``key_hash``, in one query; None
        if either is missing. The three rows are detached (``driver_sql.loaded(attach=False)``): a
        push reads their columns, never their relationships."""
        row = _TARGET_FOR_KEY.first(self.session, {
            "company": company_id, "connection": connection_id, "account": account_id, "key_hash": key_hash})
        if row is None:
            return None
        values = iter(row)
        company, connection, account = self._loaded(values, refresh=True, attach=False)
        return KeyRecord(*values), company, connection, account

    def set_account_tip(
        self, account: SourceAccount, last: Transaction, *, balance: Decimal | None, newest: datetime | None,
        modified_at: datetime,
    ) -> None:
        """After a write that stored transactions, ``last`` the last of them: the account's balance,
        newest transaction date, modification time and chain tip (``last``). One compiled UPDATE now
        (not a flush at commit); the loaded row shows the new values."""
        values = {"balance": balance, "newest_transaction_date": newest, "modified_at": modified_at,
                  "tip_transaction_id": last.id, "tip_amount": last.amount, "tip_balance": last.balance}
        _SET_ACCOUNT_TIP.execute(self.session, {"id": account.id, **values})
        for key, value in values.items():
            set_committed_value(account, key, value)

    def insert_new(
        self, account_pk: uuid.UUID, operation_key: uuid.UUID, modified_at: datetime,
        txns: Sequence[Transaction], *, assume_new: bool = False,
    ) -> set[str]:
        """Insert the transactions whose id the account does not have yet; returns the ids inserted.

        One statement for the batch, no ORM object per row. An id already stored is skipped by the
        unique constraint (ON CONFLICT DO NOTHING), so the insert is also the duplicate check.
        ``operation_key`` is this write's own (a new push operation's): on SQLite it tells the rows
        the write inserted from those already there.

        ``assume_new`` (inside ``driver_sql.batched``, PostgreSQL): every id is taken as new and the
        insert goes with the batch's other writes, in its statement (one round trip fewer); if one
        was not, ``driver_sql.NotAsExpected`` is raised when the batch goes, and the transaction is
        to be rolled back.
        """
        if not txns:
            return set()
        if self.session.get_bind().dialect.name == "postgresql":
            rows = _ENCODE.encode([
                [t.id, t.date.isoformat() if t.date is not None else None, t.description, t.counterparty,
                 t.reference, t.reconciled, t.amount, t.balance, t.transaction_type]
                for t in txns
            ]).decode()
            params = {"account": account_pk, "operation": operation_key, "modified": modified_at, "rows": rows}
            if assume_new and queue_checked(self.session, _PG_INSERT_NEW, params, len(txns)):
                return {t.id for t in txns if t.id is not None}
            return {row[0] for row in _PG_INSERT_NEW.all(self.session, params)}
        return _sqlite_insert_new(self.session, account_pk, operation_key, modified_at, txns)


# SQLite: the bare driver, in the session's transaction: one executemany (a loop in C) of an INSERT
# ... ON CONFLICT DO NOTHING, so an id the account has is skipped by the unique constraint. SQLite
# has no RETURNING for executemany; its row count says whether every row went in (the usual case).
# If not, the rows this write inserted are the batch's ids that carry its push operation's key.
# The transaction holds SQLite's write lock from its first statement (BEGIN IMMEDIATE), so no other
# writer comes between. SQLAlchemy's executemany spent ~0.02 ms a row on parameters; the values here
# are what the same column types' bind processors give (``_sqlite_rows``), so what is stored is
# identical.
_SQLITE_COLUMNS = ("source_account_id", "push_operation_key", "modified_at", "transaction_id", "date",
                   "description", "counterparty", "reference", "reconciled", "amount", "balance",
                   "transaction_type")
_SQLITE_INSERT = (
    f"INSERT INTO bank_transactions ({', '.join(_SQLITE_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _SQLITE_COLUMNS)}) "
    "ON CONFLICT (source_account_id, transaction_id) DO NOTHING"
)
_SQLITE_LOOKUP_CHUNK = 500


def _sqlite_ids_written_by(cursor: Any, account: Any, operation: Any, ids: list[str]) -> set[str]:
    """Which of ``ids`` the account holds as written by ``operation`` (one indexed query per 500 ids)."""
    written: set[str] = set()
    for first in range(0, len(ids), _SQLITE_LOOKUP_CHUNK):
        chunk = ids[first:first + _SQLITE_LOOKUP_CHUNK]
        cursor.execute(
            "SELECT transaction_id FROM bank_transactions WHERE source_account_id = ? "
            f"AND transaction_id IN ({', '.join('?' for _ in chunk)}) AND push_operation_key = ?",
            (account, *chunk, operation),
        )
        written.update(row[0] for row in cursor.fetchall())
    return written


@functools.cache
def _processor(column: str, dialect: Dialect) -> Callable[[Any], Any]:
    process = _TABLE.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else _same


def _same(value: Any) -> Any:
    return value


_PROBE = datetime(2001, 2, 3, 4, 5, 6, 7)

RowMaker = Callable[[tuple[Any, ...], Sequence[Transaction]], list[tuple[Any, ...]]]


@functools.cache
def _sqlite_rows(dialect: Dialect) -> RowMaker:
    """The executemany parameters of a batch: the fixed values, then each transaction's, as the
    columns' bind processors give them. Where those are known to give what a C call gives (a naive
    date-time's ``isoformat``, a Decimal's positional text, a boolean's 0 or 1, as SQLAlchemy's
    SQLite types and ``ExactDecimal`` do), the C call is made inline; any other value goes through
    the processor."""
    as_date, as_money, as_bool = _processor("date", dialect), _processor("amount", dialect), \
        _processor("reconciled", dialect)
    inline = (
        as_date(_PROBE) == _PROBE.isoformat(" ", "microseconds") and as_date(None) is None
        and as_money(Decimal("-1.50")) == format(Decimal("-1.50"), "f") == "-1.50"
        and as_money(Decimal("1E+2")) == "100" and as_money(None) is None
        and as_bool(True) == 1 and as_bool(False) == 0 and as_bool(None) is None
    )

    def processed(fixed: tuple[Any, ...], txns: Sequence[Transaction]) -> list[tuple[Any, ...]]:
        return [
            (*fixed, t.id, as_date(t.date), t.description, t.counterparty, t.reference, as_bool(t.reconciled),
             as_money(t.amount), as_money(t.balance), t.transaction_type)
            for t in txns
        ]

    def inlined(fixed: tuple[Any, ...], txns: Sequence[Transaction]) -> list[tuple[Any, ...]]:
        dt, dec = datetime, Decimal
        return [
            (*fixed, t.id,
             w.isoformat(" ", "microseconds") if type(w := t.date) is dt and w.tzinfo is None else as_date(w),
             t.description, t.counterparty, t.reference,
             None if (r := t.reconciled) is None else 1 if r is True else 0 if r is False else as_bool(r),
             format(a, "f") if type(a := t.amount) is dec else as_money(a),
             format(b, "f") if type(b := t.balance) is dec else as_money(b),
             t.transaction_type)
            for t in txns
        ]

    return inlined if inline else processed


def _sqlite_insert_new(
    session: Session, account_pk: uuid.UUID, operation_key: uuid.UUID, modified_at: datetime,
    txns: Sequence[Transaction],
) -> set[str]:
    connection = session.connection()
    dialect = connection.dialect
    as_uuid, as_instant = _processor("source_account_id", dialect), _processor("modified_at", dialect)
    fixed = (as_uuid(account_pk), as_uuid(operation_key), as_instant(modified_at))
    rows = _sqlite_rows(dialect)(fixed, txns)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    statement = _SQLITE_INSERT
    try:
        cursor.executemany(_SQLITE_INSERT, rows)
        if cursor.rowcount == len(rows):
            return {t.id for t in txns if t.id is not None}
        statement = "SELECT"
        return _sqlite_ids_written_by(cursor, fixed[0], fixed[1], [t.id for t in txns if t.id is not None])
    except sqlite3.Error as err:
        # As SQLAlchemy would raise it (IntegrityError, OperationalError ...), for the same handlers.
        raise DBAPIError.instance(statement, None, err, sqlite3.Error) from err
    finally:
        cursor.close()
