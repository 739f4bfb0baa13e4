"""Revision d8a4f7b2c1e3: each source account carries its chain tip (its newest stored transaction).

Writes through the real app set the tip; after the columns are dropped (downgrade) and added again
(upgrade), the revision's backfill gives every account the same tip from its stored transactions,
and none to an account without any. The next push then checks its balances against it. Going
down rebuilds the accounts table on SQLite: no transaction goes with the old table.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bankfeeds.api_keys import service as api_keys
from bankfeeds.app import create_app
from bankfeeds.kit import migrate
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction, SourceAccount
from tests.bank_transactions.helpers import txn, write
from tests.deploy.helpers import empty_database
from tests.fixtures.app import NOW, basic, make_settings
from tests.fixtures.factories import make_linked_feed

BEFORE = "c6f0a3d9e2b7"


def tips(db: Database) -> dict[str, tuple[str | None, Decimal | None, Decimal | None]]:
    with db.unit_of_work() as s:
        return {a.account_id: (a.tip_transaction_id, a.tip_amount, a.tip_balance)
                for a in s.scalars(select(SourceAccount))}


def transactions(db: Database) -> int:
    with db.unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(BankTransaction)) or 0)


def test_writes_keep_the_tip_and_the_backfill_finds_the_same(db_kind: str, tmp_path: Path) -> None:
    with empty_database(db_kind, tmp_path) as url:
        migrate.upgrade(url, demo=False)
        db = Database(url)
        clock = FrozenClock(NOW)
        try:
            company, connection, _ = make_linked_feed(db, clock, ("acc-1", "acc-2", "acc-3"))
            with db.unit_of_work() as s:
                _, key = api_keys.create(s, clock, "tests")
            app = create_app(make_settings(url), clock=clock, database=db, run_worker=False)
            with TestClient(app, headers={"Authorization": basic(key)}) as client:
                write(client, company, connection, [txn(1), txn(2, balance=Decimal("20.50"))])
                write(client, company, connection, [
                    txn(3, amount=Decimal("-0.25"), balance=Decimal("20.25"), transactionType="Debit"),
                    txn(4, balance=Decimal("30.25"))])
                write(client, company, connection, [txn(1)])  # a repeat: stores nothing, the tip stays
                write(client, company, connection, [txn(7, amount=Decimal("5"), balance=Decimal("105"))],
                      account_id="acc-2")
                expected = {"acc-1": ("t4", Decimal("10.00"), Decimal("30.25")),
                            "acc-2": ("t7", Decimal("5"), Decimal("105")),
                            "acc-3": (None, None, None)}
                assert tips(db) == expected

                stored = transactions(db)
                # Down: SQLite rebuilds source_accounts to drop the columns. Its transactions stay
                # (the migration runs with foreign key enforcement off, not cascading the drop).
                command.downgrade(migrate.alembic_config(url), BEFORE)
                assert transactions(db) == stored == 5
                assert migrate.upgrade(url, demo=False).migrated
                assert tips(db) == expected

                # The next push follows the tip: 105 + 1 = 106 chains, 200 does not.
                op = write(client, company, connection, [txn(8, amount=Decimal("1"), balance=Decimal("106"))],
                           account_id="acc-2")
                assert op["validation"]["warnings"] == []
                op = write(client, company, connection, [txn(9, amount=Decimal("1"), balance=Decimal("200"))],
                           account_id="acc-2")
                assert [w["itemId"] for w in op["validation"]["warnings"]] == ["t9"]
        finally:
            db.dispose()


def test_a_migration_that_breaks_a_reference_rolls_back(tmp_path: Path) -> None:
    """SQLite migrations run with enforcement off; ``check_foreign_keys`` stands in for it at the end."""
    url = f"sqlite:///{tmp_path / 'fk.sqlite3'}"
    migrate.upgrade(url, demo=False)
    engine = migrate.migration_engine(url)
    try:
        with engine.connect() as conn:
            migrate.check_foreign_keys(conn)  # a clean database passes
            conn.exec_driver_sql(
                "INSERT INTO bank_transactions (source_account_id, push_operation_key, transaction_id, date, amount, "
                "modified_at) VALUES ('0000', '0000', 't1', '2026-11-24 10:00:00', '1', '2026-11-24 10:00:00')")
            with pytest.raises(RuntimeError, match=r"1 broken foreign key reference.*bank_transactions"):
                migrate.check_foreign_keys(conn)
            conn.rollback()
    finally:
        engine.dispose()
