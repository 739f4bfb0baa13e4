"""The write's reads: its target as the ORM would load it, and (PostgreSQL) read under its locks:
the account as the writer before committed it, or gone if it was deleted meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, inspect, text, update
from sqlalchemy.orm import Session

from bankfeeds.api_keys import service as api_keys
from bankfeeds.api_keys.repository import ApiKeyRepository
from bankfeeds.bank_transactions.repository import BankTransactionRepository
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction, Company, Connection, SourceAccount
from tests.fixtures.app import basic
from tests.fixtures.factories import make_linked_feed


def _columns(instance: object) -> dict[str, Any]:
    return {a.key: getattr(instance, a.key) for a in inspect(type(instance)).column_attrs}


def test_the_target_is_what_the_orm_loads(database: Database, clock: Clock) -> None:
    company, connection, (account,) = make_linked_feed(database, clock)
    with database.unit_of_work() as session:
        found = BankTransactionRepository(session).target(company.id, connection.id, "acc-1", for_write=True)
        assert found is not None
        assert all(inspect(o).persistent for o in found) and not session.dirty  # type: ignore[attr-defined]
        values = [_columns(o) for o in found]
        session.expunge_all()
        by_orm = [session.get(cls, pk) for cls, pk in ((Company, company.id), (Connection, connection.id),
                                                        (SourceAccount, account.id))]
        assert values == [_columns(o) for o in by_orm]
        assert BankTransactionRepository(session).target(company.id, connection.id, "acc-2") is None


def test_a_pushs_key_and_target_are_read_together(database: Database, clock: Clock) -> None:
    """One query for the key and the target: a row only for an unrevoked key and an existing
    target, the target as ``target(for_write=True)`` reads it, the key as ``by_hash`` does."""
    company, connection, _ = make_linked_feed(database, clock)
    with database.unit_of_work() as session:
        key, raw = api_keys.create(session, clock, "bank")
        revoked, revoked_raw = api_keys.create(session, clock, "old")
        api_keys.revoke(session, clock, revoked.id)
    digest, revoked_digest = api_keys.digest(basic(raw)), api_keys.digest(basic(revoked_raw))
    with database.unit_of_work() as session:
        repo = BankTransactionRepository(session)
        found = repo.target_for_key(digest, company.id, connection.id, "acc-1")
        assert found is not None
        record, *target = found
        assert record == ApiKeyRepository(session).by_hash(digest) and record.id == key.id
        assert [_columns(o) for o in target] == [
            _columns(o) for o in repo.target(company.id, connection.id, "acc-1", for_write=True) or ()]
        assert repo.target_for_key(revoked_digest, company.id, connection.id, "acc-1") is None
        assert repo.target_for_key("0" * 64, company.id, connection.id, "acc-1") is None
        assert repo.target_for_key(digest, company.id, connection.id, "acc-2") is None


def _waiting_for_a_lock(database: Database) -> bool:
    with database.unit_of_work() as session:
        return bool(session.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")))


def _read_for_write_behind(database: Database, clock: Clock, change: Callable[[Session, SourceAccount], None]) -> Any:
    """target(for_write=True) while another transaction holds the account's row lock, having made
    ``change``; that transaction commits once the read waits for it. What the read returned."""
    company, connection, (account,) = make_linked_feed(database, clock)
    with database.unit_of_work() as other:
        other.execute(update(SourceAccount).where(SourceAccount.id == account.id).values(balance=Decimal("1")))
        change(other, account)
        with ThreadPoolExecutor(1) as pool:
            def read() -> Any:
                with database.unit_of_work() as session:
                    found = BankTransactionRepository(session).target(company.id, connection.id, "acc-1",
                                                                      for_write=True)
                    return None if found is None else (found[2].balance, found[2].status)

            pending = pool.submit(read)
            deadline = time.monotonic() + 30
            while not _waiting_for_a_lock(database):
                assert time.monotonic() < deadline and not pending.done(), "the read did not wait for the lock"
                time.sleep(0.02)
            other.commit()
            return pending.result(timeout=30)


def test_a_write_reads_the_account_as_the_writer_before_it_left_it(committed_database: Database, clock: Clock) -> None:
    if committed_database.dialect != "postgresql":
        pytest.skip("SQLite: BEGIN IMMEDIATE lets no other writer in; there is no row lock to wait for")

    def update_it(other: Session, account: SourceAccount) -> None:
        other.execute(update(SourceAccount).where(SourceAccount.id == account.id)
                      .values(balance=Decimal("7.5"), status="Disconnected"))

    assert _read_for_write_behind(committed_database, clock, update_it) == (Decimal("7.5"), "Disconnected")


def test_a_write_finds_no_target_when_the_account_went_while_it_waited(
    committed_database: Database, clock: Clock
) -> None:
    if committed_database.dialect != "postgresql":
        pytest.skip("SQLite: BEGIN IMMEDIATE lets no other writer in; there is no row lock to wait for")

    def delete_it(other: Session, account: SourceAccount) -> None:
        other.execute(delete(BankTransaction).where(BankTransaction.source_account_id == account.id))
        other.execute(delete(SourceAccount).where(SourceAccount.id == account.id))

    assert _read_for_write_behind(committed_database, clock, delete_it) is None
