"""timeoutInMinutes: the worker task moves Pending operations past their timeout to TimedOut."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.push_operations import service
from bankfeeds.push_operations.repository import PushOperationRepository
from bankfeeds.push_operations.tasks import time_out_pending
from bankfeeds.worker import registry
from bankfeeds.worker.runner import Worker
from tests.bank_transactions.helpers import stored_ids, txn, write
from tests.fixtures.factories import make_linked_feed
from tests.fixtures.reads import events


def run_tasks(database: Database, settings: Settings, clock: FrozenClock) -> int:
    return Worker(database, settings, clock, tasks=[time_out_pending]).drain()


def get(client: TestClient, company: object, key: str) -> dict[str, Any]:
    r = client.get(f"/companies/{company.id}/push/{key}")  # type: ignore[attr-defined]
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def test_xero_writes_stay_pending_until_they_time_out(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    company, connection, [account] = make_linked_feed(database, clock, platform_key="gbol")
    op = write(client, company, connection, [txn(1)], timeoutInMinutes=5)
    assert op["status"] == "Pending" and op["statusCode"] == 202 and op["completedOnUtc"] is None
    assert op["timeoutInMinutes"] == 5 and op["changes"] is None
    assert stored_ids(database, account) == ["t1"], "stored at once, delivery pending"
    assert events(database) == []

    clock.advance(timedelta(minutes=4, seconds=59))
    assert run_tasks(database, settings, clock) == 0
    assert get(client, company, op["pushOperationKey"])["status"] == "Pending"

    clock.advance(timedelta(seconds=1))
    assert run_tasks(database, settings, clock) == 1
    timed_out = get(client, company, op["pushOperationKey"])
    assert timed_out["status"] == "TimedOut" and timed_out["statusCode"] == 504
    assert timed_out["completedOnUtc"] == "2026-11-24T15:05:00Z"
    assert "5 minutes" in timed_out["errorMessage"]
    [event] = events(database, "bankTransactions.write.unsuccessful")
    assert event["payload"]["status"] == "TimedOut" and event["payload"]["id"] == op["pushOperationKey"]
    assert event["payload"]["completedOnDate"] == "2026-11-24T15:05:00Z"
    # Only the status changes: the transactions stay.
    assert stored_ids(database, account) == ["t1"]
    clock.advance(timedelta(hours=1))
    assert run_tasks(database, settings, clock) == 0


def test_without_a_timeout_pending_stays_pending(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    company, connection, _ = make_linked_feed(database, clock, platform_key="gbol")
    op = write(client, company, connection, [txn(1)])
    clock.advance(timedelta(days=30))
    assert run_tasks(database, settings, clock) == 0
    assert get(client, company, op["pushOperationKey"])["status"] == "Pending"


def test_completed_operations_never_time_out(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    ok = write(client, company, connection, [txn(1)], timeoutInMinutes=1)
    failed = write(client, company, connection, [txn(0, date="2026-11-23T09:00:00")], timeoutInMinutes=1)
    assert ok["status"] == "Success" and failed["status"] == "Failed"
    clock.advance(timedelta(minutes=10))
    assert run_tasks(database, settings, clock) == 0
    assert get(client, company, ok["pushOperationKey"])["status"] == "Success"
    assert get(client, company, failed["pushOperationKey"])["status"] == "Failed"


def test_the_task_is_in_the_worker_and_works_in_batches(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    assert any(t.name == "time_out_pending" for t in registry.tasks())
    company, connection, _ = make_linked_feed(database, clock, platform_key="gbol")
    keys = [write(client, company, connection, [txn(i)], timeoutInMinutes=1)["pushOperationKey"] for i in range(5)]
    clock.advance(timedelta(minutes=1))
    with database.unit_of_work() as session:
        assert service.expire_due(session, clock, settings, limit=2) == 2
    assert run_tasks(database, settings, clock) == 3
    assert {get(client, company, k)["status"] for k in keys} == {"TimedOut"}
    assert len(events(database, "bankTransactions.write.unsuccessful")) == 5


@pytest.mark.committed_database  # two transactions at once, the first holding row locks
def test_claims_skip_rows_another_worker_holds(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock, db_kind: str
) -> None:
    if db_kind != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite serialises writers instead")
    company, connection, _ = make_linked_feed(database, clock, platform_key="gbol")
    keys = {uuid.UUID(write(client, company, connection, [txn(i)], timeoutInMinutes=1)["pushOperationKey"])
            for i in range(4)}
    clock.advance(timedelta(minutes=1))
    with database.unit_of_work() as first:
        held = {op.key for op in PushOperationRepository(first).claim_timed_out(clock.now(), 2)}
        assert len(held) == 2
        # A second worker, in its own transaction meanwhile, gets only the others.
        with database.unit_of_work() as second:
            other = {op.key for op in PushOperationRepository(second).claim_timed_out(clock.now(), 10)}
        assert other == keys - held
