"""SQLite: a push is written on the event loop itself when the database is free, and waits, off the
loop, for another process that holds it: answered 200 and stored once either way."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.api_keys import service as api_keys
from bankfeeds.app import create_app
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction
from tests.bank_transactions.helpers import post, txn, write_url
from tests.fixtures.app import basic, make_settings
from tests.fixtures.factories import make_linked_feed

pytestmark = pytest.mark.committed_database


def test_a_push_waits_off_the_loop_for_another_process_and_is_stored_once(
    database: Database, clock: FrozenClock
) -> None:
    if not database.can_work_now:
        pytest.skip("PostgreSQL: pushes are written in the threadpool")
    company, connection, _ = make_linked_feed(database, clock)
    with database.unit_of_work() as session:
        _, raw = api_keys.create(session, clock, "tests")
    app = create_app(make_settings(database.url), clock=clock, database=database, run_worker=False)
    url = write_url(company, connection)
    path = database.url.split(":///", 1)[1]
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    with TestClient(app, headers={"Authorization": basic(raw)}, raise_server_exceptions=False) as client:
        body: dict[str, Any] = {"accountId": "acc-1", "transactions": [txn(1)]}
        assert post(client, url, body).json()["status"] == "Success"  # on the loop: the database is free
        other.execute("BEGIN IMMEDIATE")  # another process (bankfeeds publish, say) is writing
        ends = threading.Timer(0.3, lambda: other.execute("ROLLBACK"))
        ends.start()
        try:
            answer = post(client, url, {"accountId": "acc-1", "transactions": [txn(2)]})
        finally:
            ends.join(10)
            other.close()
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "Success"
        again = post(client, url, {"accountId": "acc-1", "transactions": [txn(3)]})
        assert again.json()["status"] == "Success"
    with database.unit_of_work() as session:
        stored = list(session.scalars(select(BankTransaction.transaction_id).order_by(BankTransaction.transaction_id)))
    assert stored == ["t1", "t2", "t3"]
