"""create-bank-transactions through the real app: success, storage, exact money, webhooks."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.bank_transactions.helpers import account_row, post, stored, txn, write, write_url
from tests.fixtures.app import NOW
from tests.fixtures.factories import make_linked_feed
from tests.fixtures.reads import events


def test_quickbooks_write_succeeds_in_the_request(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, [account] = make_linked_feed(database, clock)
    # Balances that follow each other (20 + 22.5): a break in the chain would be a warning.
    op = write(client, company, connection, [txn(1), txn(2), txn(3, amount=Decimal("22.5"), balance=Decimal("42.5"))])

    assert op["status"] == "Success" and op["statusCode"] == 200
    assert op["companyId"] == str(company.id) and op["dataConnectionKey"] == str(connection.id)
    assert op["dataType"] == "bankTransactions"
    assert op["requestedOnUtc"] == "2026-11-24T15:00:00Z" and op["completedOnUtc"] == "2026-11-24T15:00:00Z"
    assert op["changes"] == [{"type": "Created", "recordRef": {"id": "acc-1", "dataType": "bankTransactions"},
                              "attachmentId": None}]
    assert op["validation"] == {"errors": [], "warnings": []}
    assert op["errorMessage"] is None and op["timeoutInMinutes"] is None
    assert "data" not in op

    rows = stored(database, account)
    assert [r.transaction_id for r in rows] == ["t1", "t2", "t3"]
    assert {r.push_operation_key for r in rows} == {uuid.UUID(op["pushOperationKey"])}
    assert rows[0].date == datetime(2026, 11, 23, 10, 1) and rows[0].description == "Payment 1"
    assert all(r.modified_at == NOW for r in rows)
    assert rows[0].transaction_type == "Credit"
    after = account_row(database, account)
    assert after.balance == Decimal("42.5")
    assert after.newest_transaction_date == datetime(2026, 11, 23, 10, 3)
    assert after.modified_at == NOW


def test_success_records_the_write_successful_webhook(client: TestClient, database: Database,
                                                      clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    op = write(client, company, connection, [txn(1)])
    [event] = events(database, "bankTransactions.write.successful")
    assert event["eventType"] == "bankTransactions.write.successful"
    payload = event["payload"]
    assert payload["id"] == op["pushOperationKey"] and payload["type"] == "Create"
    assert payload["status"] == "Success" and payload["record"] == {"id": "acc-1"}
    assert payload["connectionId"] == str(connection.id)
    assert payload["requestedOnDate"] == "2026-11-24T15:00:00Z" and payload["completedOnDate"] == "2026-11-24T15:00:00Z"
    assert payload["referenceCompany"]["id"] == str(company.id)
    assert payload["referenceCompany"]["name"] == company.name
    assert events(database, "bankTransactions.write.unsuccessful") == []


MONEY = ["0.1", "0.2", "12345678901234.5678", "-0.0001", "1.10", "0", "-12345678901234567890.123456789"]


def test_money_round_trips_exactly(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, [account] = make_linked_feed(database, clock)
    items = ",".join(
        f'{{"id":"m{i}","date":"2026-11-23T10:{i:02d}:00","description":"d","amount":{v},"balance":{v},'
        f'"transactionType":"Unknown"}}'
        for i, v in enumerate(MONEY)
    )
    r = post(client, write_url(company, connection), f'{{"accountId":"acc-1","transactions":[{items}]}}')
    assert r.status_code == 200 and r.json()["status"] == "Success", r.text
    rows = stored(database, account)
    assert [str(r.amount) for r in rows] == MONEY
    assert [str(r.balance) for r in rows] == MONEY
    assert all(isinstance(r.amount, Decimal) and isinstance(r.balance, Decimal) for r in rows)
    # The last transaction's balance becomes the account's, digit for digit.
    assert str(account_row(database, account).balance) == MONEY[-1]


def test_balance_comes_from_the_last_transaction(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, [account] = make_linked_feed(database, clock)
    write(client, company, connection, [txn(1, balance=Decimal("0.1")), txn(2, balance=Decimal("0.3"))])
    assert account_row(database, account).balance == Decimal("0.3")
    # A repeat of stored transactions stores nothing and leaves the balance alone.
    write(client, company, connection, [txn(1, balance=Decimal("99"))])
    assert account_row(database, account).balance == Decimal("0.3")


def test_offsets_are_ignored_and_date_only_is_midnight(client: TestClient, database: Database,
                                                       clock: FrozenClock) -> None:
    company, connection, [account] = make_linked_feed(database, clock)
    write(client, company, connection, [
        txn(1, date="2026-11-22"),
        txn(2, date="2026-11-23T08:00:00-05:00"),
        txn(3, date="2026-11-23T09:30:00Z"),
        txn(4, date="2026-11-23T09:45:00.250+09:00"),
    ])
    assert [r.date for r in stored(database, account)] == [
        datetime(2026, 11, 22), datetime(2026, 11, 23, 8), datetime(2026, 11, 23, 9, 30),
        datetime(2026, 11, 23, 9, 45, 0, 250000),
    ]


def test_optional_fields_are_stored_even_when_quickbooks_ignores_them(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company, connection, [account] = make_linked_feed(database, clock)
    write(client, company, connection, [txn(1, counterparty="ACME", reference="R-1", reconciled=True),
                                        txn(2, transactionType=None)])
    first, second = stored(database, account)
    assert (first.counterparty, first.reference, first.reconciled) == ("ACME", "R-1", True)
    assert second.transaction_type is None and second.counterparty is None


def test_a_full_batch_of_1000_is_accepted(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, [account] = make_linked_feed(database, clock)
    txns = [txn(i, date=f"2026-11-23T{i // 60 % 24:02d}:{i % 60:02d}:00") for i in range(1000)]
    op = write(client, company, connection, txns)
    assert op["status"] == "Success"
    assert len(stored(database, account)) == 1000


def test_writes_to_one_account_leave_the_others_alone(client: TestClient, database: Database,
                                                      clock: FrozenClock) -> None:
    company, connection, [a, b] = make_linked_feed(database, clock, accounts=("acc-1", "acc-2"))
    write(client, company, connection, [txn(1)], account_id="acc-1")
    # Ids are unique per account: the same id may be written to another account.
    write(client, company, connection, [txn(1, date="2026-11-22T00:00:00")], account_id="acc-2")
    assert [r.transaction_id for r in stored(database, a)] == ["t1"]
    assert [r.transaction_id for r in stored(database, b)] == ["t1"]
    assert account_row(database, b).newest_transaction_date == datetime(2026, 11, 22)


def test_query_parameters(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    op = write(client, company, connection, [txn(1)], timeoutInMinutes=30, allowSyncOnPushComplete="false")
    assert op["status"] == "Success" and op["timeoutInMinutes"] == 30
    op = write(client, company, connection, [txn(2)], allowSyncOnPushComplete="True")
    assert op["status"] == "Success"


def test_account_ids_are_free_text(client: TestClient, database: Database, clock: FrozenClock) -> None:
    """Codat's own examples include ids like "Checking 0202" (URL-encoded in the path)."""
    company, connection, [account] = make_linked_feed(database, clock, accounts=("Checking 0202",))
    op = write(client, company, connection, [txn(1)], account_id="Checking 0202")
    assert op["status"] == "Success" and op["changes"][0]["recordRef"]["id"] == "Checking 0202"
    assert [r.transaction_id for r in stored(database, account)] == ["t1"]


def test_an_empty_batch_succeeds_and_stores_nothing(client: TestClient, database: Database,
                                                    clock: FrozenClock) -> None:
    company, connection, [account] = make_linked_feed(database, clock)
    op = write(client, company, connection, [])
    assert op["status"] == "Success" and op["changes"] == [] and op["validation"] == {"errors": [], "warnings": []}
    assert stored(database, account) == [] and account_row(database, account).balance == Decimal("0")
