"""The batch insert (``BankTransactionRepository.insert_new``): the duplicate check and what is stored."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from bankfeeds.bank_transactions import repository
from bankfeeds.bank_transactions.repository import BankTransactionRepository
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction
from tests.fixtures.factories import make_linked_feed


@dataclass
class Txn:
    id: str | None
    date: datetime | None = datetime(2026, 11, 23, 10, 0)
    description: str | None = None
    counterparty: str | None = None
    reference: str | None = None
    reconciled: bool | None = None
    amount: Decimal | None = Decimal("1.00")
    balance: Decimal | None = None
    transaction_type: str | None = None


VARIED = [
    Txn("a"),
    Txn("b", datetime(2026, 1, 2, 3, 4, 5, 678), "d", "c", "r", True, Decimal("-0.10"), Decimal("1E+2"), "Debit"),
    Txn("c", datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=5))), reconciled=False, amount=Decimal("-0"),
        balance=Decimal("0E-28")),
    Txn("d", None, amount=None, balance=Decimal("123456789012345678901234567.1234567890123456789012345678")),
]


def test_sqlite_rows_are_what_the_column_processors_give() -> None:
    """The inlined parameters equal those of the columns' bind processors, value for value."""
    dialect = sqlite.dialect()
    as_date, as_money, as_bool = (repository._processor(c, dialect) for c in ("date", "amount", "reconciled"))
    fixed = ("account", "operation", "modified")
    expected = [
        (*fixed, t.id, as_date(t.date), t.description, t.counterparty, t.reference, as_bool(t.reconciled),
         as_money(t.amount), as_money(t.balance), t.transaction_type)
        for t in VARIED
    ]
    rows = repository._sqlite_rows(dialect)(fixed, VARIED)
    assert rows == expected
    assert [[type(v) for v in row] for row in rows] == [[type(v) for v in row] for row in expected]


def test_insert_new_stores_only_ids_the_account_lacks(database: Database, clock: FrozenClock) -> None:
    _, _, [account] = make_linked_feed(database, clock)
    now = datetime(2026, 11, 24, tzinfo=UTC)
    first, second = uuid.uuid4(), uuid.uuid4()
    with database.unit_of_work() as s:
        assert BankTransactionRepository(s).insert_new(account.id, first, now, [Txn("a"), Txn("b")]) == {"a", "b"}
    with database.unit_of_work() as s:
        inserted = BankTransactionRepository(s).insert_new(
            account.id, second, now, [Txn("b", amount=Decimal("9")), Txn("c"), Txn("a"), Txn("d")])
    assert inserted == {"c", "d"}
    with database.unit_of_work() as s:
        rows = s.execute(select(BankTransaction.transaction_id, BankTransaction.push_operation_key,
                                BankTransaction.amount).order_by(BankTransaction.transaction_id)).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("a", first, Decimal("1.00")), ("b", first, Decimal("1.00")), ("c", second, Decimal("1.00")),
        ("d", second, Decimal("1.00"))]
    # A batch of ids all stored already inserts nothing.
    with database.unit_of_work() as s:
        assert BankTransactionRepository(s).insert_new(account.id, uuid.uuid4(), now, [Txn("a"), Txn("d")]) == set()


def test_insert_new_stores_values_exactly(database: Database, clock: FrozenClock) -> None:
    _, _, [account] = make_linked_feed(database, clock)
    txns = [t for t in VARIED if t.amount is not None and t.date is not None]
    with database.unit_of_work() as s:
        BankTransactionRepository(s).insert_new(account.id, uuid.uuid4(), datetime(2026, 11, 24, tzinfo=UTC), txns)
    with database.unit_of_work() as s:
        stored = {r.transaction_id: r for r in s.scalars(select(BankTransaction))}
    for t in txns:
        row = stored[t.id or ""]
        assert row.date == t.date.replace(tzinfo=None) if t.date is not None else row.date is None
        assert (row.description, row.counterparty, row.reference, row.reconciled, row.transaction_type) == (
            t.description, t.counterparty, t.reference, t.reconciled, t.transaction_type)
        assert row.amount == t.amount and row.balance == t.balance
