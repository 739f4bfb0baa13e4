"""The write's reads: its target as the ORM would load it, and the account re-read under its row lock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import delete, inspect, update

from bankfeeds.bank_transactions.repository import BankTransactionRepository
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction, Company, Connection, SourceAccount
from tests.fixtures.factories import make_linked_feed


def _columns(instance: object) -> dict[str, Any]:
    return {a.key: getattr(instance, a.key) for a in inspect(type(instance)).column_attrs}


def test_the_target_is_what_the_orm_loads(database: Database, clock: Clock) -> None:
    company, connection, (account,) = make_linked_feed(database, clock)
    with database.unit_of_work() as session:
        found = BankTransactionRepository(session).target(company.id, connection.id, "acc-1", key_share=True)
        assert found is not None
        assert all(inspect(o).persistent for o in found) and not session.dirty  # type: ignore[attr-defined]
        values = [_columns(o) for o in found]
        session.expunge_all()
        by_orm = [session.get(cls, pk) for cls, pk in ((Company, company.id), (Connection, connection.id),
                                                        (SourceAccount, account.id))]
        assert values == [_columns(o) for o in by_orm]
        assert BankTransactionRepository(session).target(company.id, connection.id, "acc-2") is None


def test_the_locked_account_is_the_rows_current_state(committed_database: Database, clock: Clock) -> None:
    database = committed_database
    company, connection, (account,) = make_linked_feed(database, clock)
    with database.unit_of_work() as session:
        found = BankTransactionRepository(session).target(company.id, connection.id, "acc-1")
        assert found is not None
        loaded = found[2]
        if database.dialect == "postgresql":
            # Another writer committed after the read (PostgreSQL reads committed rows).
            with database.unit_of_work() as other:
                other.execute(update(SourceAccount).where(SourceAccount.id == account.id).values(balance=Decimal("7.5")))
        locked = BankTransactionRepository(session).lock_account(loaded)
        assert locked is loaded
        expected = Decimal("7.5") if database.dialect == "postgresql" else account.balance
        assert locked.balance == expected and not session.dirty
    if database.dialect == "postgresql":
        with database.unit_of_work() as session:
            found = BankTransactionRepository(session).target(company.id, connection.id, "acc-1")
            assert found is not None
            with database.unit_of_work() as other:
                other.execute(delete(BankTransaction))
                other.execute(delete(SourceAccount).where(SourceAccount.id == account.id))
            assert BankTransactionRepository(session).lock_account(found[2]) is None
