"""The platforms' write rules, through the real app: a Failed push operation or a warning."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import PushOperation
from tests.bank_transactions.helpers import account_row, drop, error_ids, stored, stored_ids, txn, warning_ids, write
from tests.fixtures.factories import make_company, make_connection, make_linked_feed, make_source_account
from tests.fixtures.reads import events


def assert_failed(op: dict[str, Any], database: Database) -> None:
    assert op["status"] == "Failed" and op["statusCode"] == 400, op
    assert op["errorMessage"].startswith("Push failed")
    assert op["completedOnUtc"] == "2026-11-24T15:00:00Z"
    assert op["changes"] == []
    assert stored_ids(database) == [], "a failed push stores nothing"
    [event] = events(database, "bankTransactions.write.unsuccessful")
    assert event["payload"]["id"] == op["pushOperationKey"] and event["payload"]["status"] == "Failed"
    assert event["payload"]["record"] is None
    assert events(database, "bankTransactions.write.successful") == []


def test_out_of_order_dates_fail_naming_the_transaction(client: TestClient, database: Database,
                                                        clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    op = write(client, company, connection, [txn(1), txn(3), txn(2)])
    assert_failed(op, database)
    assert error_ids(op) == ["t2"] and op["validation"]["errors"][0]["validatorName"] == "Chronological"
    # Equal dates are in order.
    op = write(client, company, connection, [txn(1), txn(2, date="2026-11-23T10:01:00")])
    assert op["status"] == "Success"


def test_nothing_older_than_the_newest_stored(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, [account] = make_linked_feed(database, clock)
    write(client, company, connection, [txn(5)])
    op = write(client, company, connection, [txn(4), txn(6)])
    assert op["status"] == "Failed" and error_ids(op, "NotOlderThanNewest") == ["t4"]
    assert stored_ids(database) == ["t5"] and account_row(database, account).balance == Decimal("50")
    # The batch was undone, the failed operation and its event were kept.
    assert client.get(f"/companies/{company.id}/push/{op['pushOperationKey']}").json() == op
    assert len(events(database, "bankTransactions.write.unsuccessful")) == 1
    # The same date as the newest is not older.
    op = write(client, company, connection, [txn(7, date="2026-11-23T10:05:00"), txn(8)])
    assert op["status"] == "Success" and stored_ids(database) == ["t5", "t7", "t8"]


def test_a_retried_batch_is_skipped_not_refused(client: TestClient, database: Database, clock: FrozenClock) -> None:
    """Resending a stored batch (older than the newest by then) is a success with warnings."""
    company, connection, [account] = make_linked_feed(database, clock)
    write(client, company, connection, [txn(1), txn(2)])
    write(client, company, connection, [txn(3)])
    op = write(client, company, connection, [txn(1), txn(2), txn(3), txn(4)])
    assert op["status"] == "Success" and op["validation"]["errors"] == []
    assert warning_ids(op, "Duplicate") == ["t1", "t2", "t3"]
    assert stored_ids(database) == ["t1", "t2", "t3", "t4"]
    assert account_row(database, account).balance == Decimal("40")


def test_a_retried_push_is_written_once_with_one_operation_per_request(
    client: TestClient, database: Database, clock: FrozenClock,
) -> None:
    """The common lane takes a push's ids as new (PostgreSQL: its insert goes with the push's other
    writes); a retried push, whose ids the account has, is rolled back there and written by the
    route: one operation and one event per request, the rows kept as the first push stored them."""
    company, connection, _ = make_linked_feed(database, clock)
    first = write(client, company, connection, [txn(1), txn(2)])
    # The newest again (not older than the newest stored: no savepoint, the common lane's assumption).
    again = write(client, company, connection, [txn(2)])
    assert first["status"] == again["status"] == "Success"
    assert warning_ids(again, "Duplicate") == ["t2"] and again["changes"] == []
    with database.unit_of_work() as session:
        keys = set(session.scalars(select(PushOperation.key)))
    assert keys == {uuid.UUID(first["pushOperationKey"]), uuid.UUID(again["pushOperationKey"])}
    assert {t.push_operation_key for t in stored(database)} == {uuid.UUID(first["pushOperationKey"])}
    assert [e["payload"]["id"] for e in events(database, "bankTransactions.write.successful")] == [
        first["pushOperationKey"], again["pushOperationKey"]]


def test_duplicate_ids_are_stored_once(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    op = write(client, company, connection, [txn(1), txn(2), txn(2, date="2026-11-23T10:03:00", description="again")])
    assert op["status"] == "Success" and warning_ids(op, "Duplicate") == ["t2"]
    op = write(client, company, connection, [txn(2, date="2026-11-23T10:04:00"), txn(5)])
    assert op["status"] == "Success" and warning_ids(op, "Duplicate") == ["t2"]
    assert op["changes"][0]["recordRef"]["id"] == "acc-1"
    assert stored_ids(database) == ["t1", "t2", "t5"]
    # Only duplicates: Success, nothing created.
    op = write(client, company, connection, [txn(5)])
    assert op["status"] == "Success" and op["changes"] == []
    [_, _, last] = events(database, "bankTransactions.write.successful")
    assert last["payload"]["record"] is None


def test_future_dates_fail(client: TestClient, database: Database, clock: FrozenClock) -> None:
    """Now is 2026-11-24T15:00Z; the latest local time anywhere is 2026-11-25T05:00 (UTC+14)."""
    company, connection, _ = make_linked_feed(database, clock)
    op = write(client, company, connection, [txn(1, date="2026-11-25T05:00:01")])
    assert_failed(op, database)
    assert error_ids(op, "FutureDate") == ["t1"]
    # The offset is ignored: this is 2026-11-25T05:00:01 local, still in the future.
    op = write(client, company, connection, [txn(1, date="2026-11-25T05:00:01-10:00")])
    assert error_ids(op, "FutureDate") == ["t1"]
    op = write(client, company, connection, [txn(1, date="2026-11-25")])
    assert op["status"] == "Success"
    op = write(client, company, connection, [txn(2, date="2026-11-25T05:00:00")])
    assert op["status"] == "Success"
    clock.advance(timedelta(days=1))
    op = write(client, company, connection, [txn(3, date="2026-11-26T05:00:00")])
    assert op["status"] == "Success"


def test_quickbooks_required_fields(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    op = write(client, company, connection, [
        txn(1, description=drop()),
        txn(2, balance=None),
        txn(3, amount=drop()),
        txn(4, id=drop()),
        txn(5, date=drop()),
        txn(6, description="   "),
        txn(7),
    ])
    assert_failed(op, database)
    assert error_ids(op, "Required") == ["t1", "t2", "t3", "transactions[3]", "t5", "t6"]
    messages = [e["message"] for e in op["validation"]["errors"]]
    assert "'description' is required by QuickBooks Online Bank Feeds." in messages
    assert "'balance' is required by QuickBooks Online Bank Feeds." in messages


def test_xero_requires_less(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock, platform_key="gbol")
    op = write(client, company, connection, [txn(1, description=drop()), txn(2, description=None)])
    assert op["status"] == "Pending" and op["validation"]["errors"] == []
    op = write(client, company, connection, [txn(3, balance=drop())])
    assert op["status"] == "Failed" and error_ids(op, "Required") == ["t3"]


def test_quickbooks_transaction_types(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    op = write(client, company, connection, [txn(1, transactionType="Fee", amount=Decimal("-1")),
                                             txn(2, transactionType="Xfer")])
    assert_failed(op, database)
    assert error_ids(op, "TransactionType") == ["t1", "t2"]
    op = write(client, company, connection, [
        txn(1, transactionType="Credit"), txn(2, transactionType="Debit", amount=Decimal("-5")),
        txn(3, transactionType="Unknown"), txn(4, transactionType=None),
    ])
    assert op["status"] == "Success"


def test_xero_takes_the_whole_enum_but_not_older_than_a_year(client: TestClient, database: Database,
                                                              clock: FrozenClock) -> None:
    company, connection, [account] = make_linked_feed(database, clock, platform_key="gbol")
    op = write(client, company, connection, [txn(1, date="2025-11-23T10:00:00")])
    assert op["status"] == "Failed" and error_ids(op, "MaxAge") == ["t1"]
    types = ["Int", "Div", "Fee", "SerChg", "Dep", "Atm", "Pos", "Xfer", "Check", "Payment", "Cash", "DirectDep",
             "DirectDebit", "RepeatPmt", "Other"]
    txns = [txn(i, date=f"2025-11-{24 + i // 10}T10:{i:02d}:00", transactionType=t) for i, t in enumerate(types)]
    op = write(client, company, connection, txns)
    assert op["status"] == "Pending" and op["validation"]["errors"] == []
    assert len(stored_ids(database, account)) == len(types)


def test_quickbooks_has_no_age_limit(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    assert write(client, company, connection, [txn(1, date="2020-01-01T00:00:00")])["status"] == "Success"


def test_amount_sign_against_type_is_a_warning(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, [account] = make_linked_feed(database, clock)
    op = write(client, company, connection, [
        txn(1, transactionType="Credit", amount=Decimal("-5")),
        txn(2, transactionType="Debit", amount=Decimal("5")),
        txn(3, transactionType="Debit", amount=Decimal("-5")),
        txn(4, transactionType="Credit", amount=Decimal("0")),
        txn(5, transactionType="Unknown", amount=Decimal("-5")),
    ])
    assert op["status"] == "Success" and op["statusCode"] == 200
    assert warning_ids(op, "AmountSign") == ["t1", "t2"]
    assert [str(r.amount) for r in stored(database, account)] == ["-5", "5", "-5", "0", "-5"]


def test_account_must_be_connected(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company = make_company(database, clock)
    connection = make_connection(database, clock, company, status="Linked")
    for status in ("pending", "connecting", "disconnected"):
        make_source_account(database, clock, connection, f"acc-{status}", status=status)
        op = write(client, company, connection, [txn(1)], account_id=f"acc-{status}")
        assert op["status"] == "Failed" and op["statusCode"] == 400
        assert error_ids(op, "SourceAccountStatus") == [f"acc-{status}"]
        assert status in op["errorMessage"]
    assert stored_ids(database) == []
    assert len(events(database, "bankTransactions.write.unsuccessful")) == 3


def test_connection_must_be_linked(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company = make_company(database, clock)
    connection = make_connection(database, clock, company, status="Unlinked")
    make_source_account(database, clock, connection, "acc-1")
    op = write(client, company, connection, [txn(1)])
    assert_failed(op, database)
    assert error_ids(op, "ConnectionStatus") == ["acc-1"]


def test_errors_and_warnings_are_reported_together(client: TestClient, database: Database,
                                                   clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    op = write(client, company, connection, [txn(1, amount=Decimal("-1")), txn(2, description=drop())])
    assert op["status"] == "Failed"
    assert error_ids(op) == ["t2"] and warning_ids(op) == ["t1"]
