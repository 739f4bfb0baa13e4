"""Authentication runs inside the request's own transaction where the operation works in one:
a revocation committed by anyone (another process included) refuses the very next request, a
refused key writes nothing, and the key is checked before the body is even parsed."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bankfeeds.api_keys import service as api_keys
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.models import ApiKey, BankTransaction, PushOperation
from bankfeeds.public_api import runs_in_request_session
from tests.bank_transactions.helpers import post, txn, write_url
from tests.fixtures.app import basic
from tests.fixtures.factories import make_linked_feed


def count(database: Database, model: type[BankTransaction] | type[PushOperation]) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def revoke_elsewhere(database: Database, clock: Clock) -> None:
    """Revoke every key through an engine of its own, as another process would."""
    other = Database(database.url)
    try:
        with other.unit_of_work() as session:
            for key in session.scalars(select(ApiKey)):
                api_keys.revoke(session, clock, key.id)
    finally:
        other.dispose()


def test_operations_that_work_in_the_request_transaction_authenticate_in_it() -> None:
    from bankfeeds.account_mapping.endpoints import router as account_mapping
    from bankfeeds.bank_transactions.endpoints import router as bank_transactions

    def route(router: Any, operation_id: str) -> Any:
        return next(r for r in router.routes if getattr(r, "operation_id", "") == operation_id)

    assert runs_in_request_session(route(bank_transactions, "create-bank-transactions"))
    # It calls the platform between units of work of its own: authenticated in one of its own.
    assert not runs_in_request_session(route(account_mapping, "get-company-information"))


@pytest.mark.committed_database  # another engine revokes the key: it must see it
def test_a_revocation_elsewhere_refuses_the_next_push_and_nothing_is_written(
    client: TestClient, database: Database, clock: Clock
) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    assert post(client, write_url(company, connection), {"accountId": "acc-1", "transactions": [txn(1)]}).json()["status"] == "Success"
    revoke_elsewhere(database, clock)
    r = post(client, write_url(company, connection), {"accountId": "acc-1", "transactions": [txn(2)]})
    assert r.status_code == 401 and r.json()["statusCode"] == 401
    assert count(database, BankTransaction) == 1 and count(database, PushOperation) == 1
    # An operation that authenticates in a transaction of its own refuses it too.
    assert client.get(f"/companies/{company.id}/connections/{connection.id}/bankFeeds/info").status_code == 401
    assert client.get("/companies").status_code == 401


def test_a_bad_key_is_refused_before_the_body_is_read(anon_client: TestClient, database: Database,
                                                      clock: Clock, api_key: str) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    for headers in ({}, {"Authorization": basic("not-a-key")}):
        r = anon_client.post(write_url(company, connection), content=b"{not json",
                             headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 401, r.text
    assert count(database, PushOperation) == 0


@pytest.mark.committed_database  # the real engine's turn-taking, not the test connection's
def test_sqlite_writers_of_one_process_take_turns(database: Database, clock: Clock) -> None:
    """Writers wait for the one before them and start when it commits, rolls back or closes."""
    import threading

    if database.dialect != "sqlite":
        return
    from bankfeeds.models import Company

    first = database.sessions()
    first.add(ApiKey(name="first", key_hash="a" * 64, prefix="aaaaaaaa", created_at=clock.now()))
    first.flush()  # BEGIN IMMEDIATE: this session holds the write turn
    order: list[str] = []

    def second_writer() -> None:
        with database.unit_of_work() as session:
            session.add(ApiKey(name="second", key_hash="b" * 64, prefix="bbbbbbbb", created_at=clock.now()))
            session.flush()
            order.append("second wrote")

    thread = threading.Thread(target=second_writer)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and order == []  # waiting for its turn
    order.append("first commits")
    first.commit()
    first.close()
    thread.join(30)
    assert not thread.is_alive() and order == ["first commits", "second wrote"]

    # A rollback, and a session closed mid-transaction, give the turn back too.
    for end in ("rollback", "close"):
        session = database.sessions()
        session.add(ApiKey(name=end, key_hash=end[0] * 64, prefix="cccccccc", created_at=clock.now()))
        session.flush()
        getattr(session, end)()
        if end == "rollback":
            session.close()
        done = threading.Event()

        def writer(done: threading.Event) -> None:
            with database.unit_of_work() as s:
                s.execute(select(func.count()).select_from(Company))
            done.set()

        t = threading.Thread(target=writer, args=(done,))
        t.start()
        t.join(30)
        assert done.is_set()


@pytest.mark.committed_database  # the real engine's turn-taking, not the test connection's
def test_a_sqlite_connection_dropped_without_close_gives_its_turn_back(database: Database) -> None:
    """A connection lost while it held the turn (its thread died, nobody closed it) does not keep
    every later writer of the process waiting."""
    import gc
    import sqlite3

    from bankfeeds.kit.db import _turn_of, _TurnTakingConnection

    if database.dialect != "sqlite":
        return
    path = database.engine.url.database
    assert path
    lost = sqlite3.connect(path, factory=_TurnTakingConnection)
    lost.turn = _turn_of(path)
    lost.take_turn()
    assert lost.holding and not _turn_of(path).acquire(timeout=0.1)
    del lost
    gc.collect()
    turn = _turn_of(path)
    assert turn.acquire(timeout=1)
    turn.release()
