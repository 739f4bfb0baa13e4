from __future__ import annotations

import functools
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import msgspec
from sqlalchemy import Dialect, Table, bindparam, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bankfeeds.kit.driver_sql import DriverQuery, DriverStatement, loaded
from bankfeeds.models import BankTransaction, Company, Connection, SourceAccount
from bankfeeds.platforms.write_rules import Transaction

# PostgreSQL: the whole batch as one JSON array of rows (encoded by msgspec in C: psycopg's array
# dumpers spent ~9 ms of Python per 1000 rows), one statement, the server taking it apart; the
# unique constraint decides what is new. Unlike a SELECT ... IN for the duplicates, it cannot be
# planned as a scan of the account's rows when the statistics lag behind a fast-growing table.
# Values travel as JSON text and are cast by the column types' own input functions: a Decimal as
# its exact text (numeric), a local date-time as ISO text (timestamp).
_PG_INSERT_NEW = text(
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
)
_ENCODE = msgspec.json.Encoder(decimal_format="string")

_TABLE = cast(Table, BankTransaction.__table__)
_SET_ACCOUNT_TIP = DriverStatement.update(
    cast(Table, SourceAccount.__table__), ("balance", "newest_transaction_date", "modified_at"))


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
_ACCOUNT_ATTRS = _TARGET_ATTRS[2]
_LOCK_ACCOUNT = DriverQuery(
    select(*(getattr(SourceAccount, key) for key in _ACCOUNT_ATTRS))
    .where(SourceAccount.id == bindparam("id")).with_for_update()
)
_TARGET_KEY_SHARE = DriverQuery(_TARGET_SELECT.with_for_update(key_share=True, read=True, of=Company))


class BankTransactionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def target(
        self, company_id: uuid.UUID, connection_id: uuid.UUID, account_id: str, *, key_share: bool = False
    ) -> tuple[Company, Connection, SourceAccount] | None:
        """The company, its connection and the source account named by a write's path, in one query.

        ``key_share``: FOR KEY SHARE OF the company row, as a foreign key check would take it.
        """
        query = _TARGET_KEY_SHARE if key_share else _TARGET
        row = query.first(self.session, {"company": company_id, "connection": connection_id, "account": account_id})
        if row is None:
            return None
        values = iter(row)
        company, connection, account = (
            loaded(self.session, cls, {key: next(values) for key in keys})
            for cls, keys in zip(_TARGET_ENTITIES, _TARGET_ATTRS, strict=True))
        return company, connection, account

    def lock_account(self, account: SourceAccount) -> SourceAccount | None:
        """Re-read the account under a row lock: writers to one account take turns (PostgreSQL).

        SQLite: the transaction began with BEGIN IMMEDIATE, so no other writer has committed since
        ``account`` was read in it; the row as read is current and stays so until commit.
        None if the account was deleted meanwhile.
        """
        if self.session.get_bind().dialect.name == "sqlite":
            return account
        row = _LOCK_ACCOUNT.first(self.session, {"id": account.id})
        if row is None:
            return None
        for key, value in zip(_ACCOUNT_ATTRS, row, strict=True):
            set_committed_value(account, key, value)
        return account

    def set_account_tip(
        self, account: SourceAccount, *, balance: Decimal | None, newest: datetime | None, modified_at: datetime
    ) -> None:
        """The account's balance, newest transaction date and modification time after a write: one
        compiled UPDATE now (not a flush at commit); the loaded row shows the new values."""
        _SET_ACCOUNT_TIP.execute(self.session, {
            "id": account.id, "balance": balance, "newest_transaction_date": newest, "modified_at": modified_at,
        })
        set_committed_value(account, "balance", balance)
        set_committed_value(account, "newest_transaction_date", newest)
        set_committed_value(account, "modified_at", modified_at)

    def insert_new(
        self, account_pk: uuid.UUID, operation_key: uuid.UUID, modified_at: datetime,
        txns: Sequence[Transaction],
    ) -> set[str]:
        """Insert the transactions whose id the account does not have yet; returns the ids inserted.

        One statement for the batch, no ORM object per row. An id already stored is skipped by the
        unique constraint (ON CONFLICT DO NOTHING), so the insert is also the duplicate check.
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
            return set(self.session.execute(_PG_INSERT_NEW, params).scalars())
        return _sqlite_insert_new(self.session, account_pk, operation_key, modified_at, txns)


# SQLite: the bare driver, in the session's transaction. The transaction holds SQLite's write lock
# from its first statement (BEGIN IMMEDIATE), so no other writer can add an id between the lookup
# of the batch's ids already stored (one indexed query per 500 ids) and the insert of the others
# (executemany, a loop in C); ON CONFLICT DO NOTHING stays as a second guard. SQLAlchemy's
# executemany spent ~0.02 ms a row on parameters; the values here go through the same column
# types' bind processors, so what is stored is identical.
_SQLITE_COLUMNS = ("source_account_id", "push_operation_key", "modified_at", "transaction_id", "date",
                   "description", "counterparty", "reference", "reconciled", "amount", "balance",
                   "transaction_type")
_SQLITE_INSERT = (
    f"INSERT INTO bank_transactions ({', '.join(_SQLITE_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _SQLITE_COLUMNS)}) "
    "ON CONFLICT (source_account_id, transaction_id) DO NOTHING"
)
_SQLITE_LOOKUP_CHUNK = 500


def _sqlite_stored_ids(cursor: Any, account: Any, ids: list[str]) -> set[str]:
    stored: set[str] = set()
    for first in range(0, len(ids), _SQLITE_LOOKUP_CHUNK):
        chunk = ids[first:first + _SQLITE_LOOKUP_CHUNK]
        cursor.execute(
            "SELECT transaction_id FROM bank_transactions WHERE source_account_id = ? "
            f"AND transaction_id IN ({', '.join('?' for _ in chunk)})",
            (account, *chunk),
        )
        stored.update(row[0] for row in cursor.fetchall())
    return stored


@functools.cache
def _processor(column: str, dialect: Dialect) -> Callable[[Any], Any]:
    process = _TABLE.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else _same


def _same(value: Any) -> Any:
    return value


_PROBE = datetime(2001, 2, 3, 4, 5, 6, 7)


@functools.cache
def _local_datetime_processor(dialect: Dialect) -> Callable[[Any], Any]:
    """The date column's processor; ``isoformat`` (C) where it writes the same text for a naive
    date-time, as SQLAlchemy's default SQLite format does."""
    process = _processor("date", dialect)
    if process(_PROBE) != _PROBE.isoformat(" ", "microseconds"):
        return process

    def fast(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return process(value)

    return fast


def _sqlite_insert_new(
    session: Session, account_pk: uuid.UUID, operation_key: uuid.UUID, modified_at: datetime,
    txns: Sequence[Transaction],
) -> set[str]:
    connection = session.connection()
    dialect = connection.dialect
    as_uuid, as_instant = _processor("source_account_id", dialect), _processor("modified_at", dialect)
    as_date, as_money = _local_datetime_processor(dialect), _processor("amount", dialect)
    as_bool = _processor("reconciled", dialect)
    fixed = (as_uuid(account_pk), as_uuid(operation_key), as_instant(modified_at))
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    statement = "SELECT"
    try:
        stored = _sqlite_stored_ids(cursor, fixed[0], [t.id for t in txns if t.id is not None])
        new = [t for t in txns if t.id not in stored]
        statement = _SQLITE_INSERT
        cursor.executemany(_SQLITE_INSERT, [
            (*fixed, t.id, as_date(t.date), t.description, t.counterparty, t.reference,
             as_bool(t.reconciled), as_money(t.amount), as_money(t.balance), t.transaction_type)
            for t in new
        ])
    except sqlite3.Error as err:
        # As SQLAlchemy would raise it (IntegrityError, OperationalError ...), for the same handlers.
        raise DBAPIError.instance(statement, None, err, sqlite3.Error) from err
    finally:
        cursor.close()
    return {t.id for t in new if t.id is not None}
