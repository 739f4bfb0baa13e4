"""Concurrent writers to one account over real HTTP: nothing stored twice, nothing lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import simplejson

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.bank_transactions.helpers import account_row, stored_ids, txn, write_url
from tests.fixtures.app import LiveServer, basic
from tests.fixtures.concurrency import at_once
from tests.fixtures.factories import make_linked_feed

WRITERS = 6
SHARED = 40
OWN = 25
DATE = "2026-11-23T12:00:00"

# Real concurrency: each request works in a transaction of its own, committed for real.
pytestmark = pytest.mark.committed_database


def post_together(url: str, api_key: str, bodies: list[str]) -> list[Any]:
    """POST every body at once, each from a client of its own: [(status, JSON)] in the bodies' order."""

    def poster(body: str) -> Callable[[], tuple[int, Any]]:
        def post() -> tuple[int, Any]:
            with httpx.Client(headers={"Authorization": basic(api_key), "Content-Type": "application/json"},
                              timeout=60) as http:
                r = http.post(url, content=body)
                return r.status_code, r.json()
        return post

    return at_once(*(poster(body) for body in bodies), timeout=120)


def test_concurrent_writers_neither_duplicate_nor_lose(
    live_server: LiveServer, api_key: str, database: Database, clock: FrozenClock
) -> None:
    """Every writer sends the same shared ids plus its own, all on one date so any order is valid."""
    company, connection, [account] = make_linked_feed(database, clock)
    url = live_server.url + write_url(company, connection)
    bodies = []
    for w in range(WRITERS):
        txns = [txn(i, date=DATE, id=f"shared-{i}") for i in range(SHARED)]
        txns += [txn(i, date=DATE, id=f"own-{w}-{i}") for i in range(OWN)]
        bodies.append(simplejson.dumps({"accountId": "acc-1", "transactions": txns}, use_decimal=True))
    results = post_together(url, api_key, bodies)
    assert all(r is not None for r in results)
    for status, op in results:
        assert status == 200 and op["status"] == "Success", op
    ids = stored_ids(database, account)
    assert len(ids) == len(set(ids)) == SHARED + WRITERS * OWN
    assert set(ids) == {f"shared-{i}" for i in range(SHARED)} | {f"own-{w}-{i}" for w in range(WRITERS)
                                                                 for i in range(OWN)}
    # Exactly one writer stored the shared ids; the others were told they were duplicates.
    skipped = [sum(1 for w in op["validation"]["warnings"] if w["validatorName"] == "Duplicate")
               for _, op in results]
    assert sorted(skipped) == [0] + [SHARED] * (WRITERS - 1)
    assert account_row(database, account).newest_transaction_date is not None


def test_concurrent_writers_keep_the_account_consistent(
    live_server: LiveServer, api_key: str, database: Database, clock: FrozenClock
) -> None:
    """Writers with different dates race; whoever wins, the newest-date rule and the balance hold.

    Writer w sends 30 transactions dated day w. A writer that commits after a later-dated one must
    fail (older than the newest); the account ends with the balance and date of the newest stored
    transaction, and every stored transaction belongs to a writer whose push succeeded.
    """
    company, connection, [account] = make_linked_feed(database, clock)
    url = live_server.url + write_url(company, connection)
    bodies = []
    for w in range(WRITERS):
        txns = [txn(i, date=f"2026-11-{10 + w}T{i // 60:02d}:{i % 60:02d}:00", id=f"w{w}-{i}",
                    balance=simplejson.loads(f"{w}.{i:03d}", use_decimal=True)) for i in range(30)]
        bodies.append(simplejson.dumps({"accountId": "acc-1", "transactions": txns}, use_decimal=True))
    results = post_together(url, api_key, bodies)
    succeeded = set()
    for w, (status, op) in enumerate(results):
        assert status == 200
        if op["status"] == "Success":
            succeeded.add(w)
        else:
            assert op["status"] == "Failed"
            assert {e["validatorName"] for e in op["validation"]["errors"]} == {"NotOlderThanNewest"}
    assert WRITERS - 1 in succeeded, "the latest-dated writer can never be refused"
    ids = stored_ids(database, account)
    assert sorted(ids) == sorted(f"w{w}-{i}" for w in succeeded for i in range(30))
    after = account_row(database, account)
    newest = max(succeeded)
    assert str(after.balance) == f"{newest}.029"
    assert after.newest_transaction_date is not None and after.newest_transaction_date.day == 10 + newest


def test_writes_racing_a_company_delete_end_in_200_or_404(
    live_server: LiveServer, api_key: str, database: Database, clock: FrozenClock
) -> None:
    """No deadlock, no 5xx: each write lands before the delete or finds the company gone."""
    company, connection, _ = make_linked_feed(database, clock)
    url = live_server.url + write_url(company, connection)
    headers = {"Authorization": basic(api_key), "Content-Type": "application/json"}
    statuses: list[int] = []

    def writer(w: int) -> Callable[[], None]:
        def write() -> None:
            with httpx.Client(headers=headers, timeout=60) as http:
                for n in range(6):
                    txns = [txn(i, date=DATE, id=f"{w}-{n}-{i}") for i in range(50)]
                    r = http.post(url, content=simplejson.dumps({"accountId": "acc-1", "transactions": txns},
                                                                use_decimal=True))
                    statuses.append(r.status_code)
        return write

    def deleter() -> None:
        with httpx.Client(headers=headers, timeout=60) as http:
            statuses.append(http.delete(f"{live_server.url}/companies/{company.id}").status_code)

    at_once(*(writer(w) for w in range(3)), deleter, timeout=120)
    assert len(statuses) == 3 * 6 + 1
    assert set(statuses) <= {200, 204, 404}, statuses
    assert 204 in statuses
    assert stored_ids(database) == []
