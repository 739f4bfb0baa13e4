"""Feed health through the public API: backlog, days to disconnection, last push, the balance chain."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction, PushOperation, SourceAccount, StatementDelivery
from tests.bank_transactions.helpers import post, txn, write_url
from tests.fixtures.factories import make_company, make_connection, make_linked_feed, make_source_account


def _health(client: TestClient, company: Any, connection: Any) -> dict[str, Any]:
    response = client.get(f"/companies/{company.id}/connections/{connection.id}/feedHealth")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _account(body: dict[str, Any], account_id: str = "acc-1") -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in body["sourceAccounts"] if a["sourceAccountId"] == account_id)
    return found


def _push(client: TestClient, company: Any, connection: Any, txns: list[dict[str, Any]]) -> dict[str, Any]:
    response = post(client, write_url(company, connection), {"accountId": "acc-1", "transactions": txns})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "Success", body
    return body


def _chain_warnings(op: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in (op.get("validation") or {}).get("warnings", [])
            if str(w.get("validatorName", "")).startswith("BalanceChain")]


def test_an_intact_chain_and_a_never_pulled_backlog(client: TestClient, database: Database,
                                                     clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    op = _push(client, company, connection, [txn(1), txn(2), txn(3)])
    assert _chain_warnings(op) == []
    clock.advance(timedelta(hours=5))
    health = _account(_health(client, company, connection))
    assert health["platform"] == "QuickBooks Online"
    assert health["balanceChain"] == {"checkedTransactions": 3, "intact": True, "firstBreak": None}
    assert health["backlog"]["count"] == 3
    assert health["backlog"]["oldestAgeSeconds"] == 5 * 3600
    assert health["lastPush"]["status"] == "Success"
    assert health["lastPush"]["transactionCount"] == 3
    assert health["needsAttention"] == []


def test_a_gap_is_a_warning_on_the_push_and_the_first_break_of_the_chain(
        client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    _push(client, company, connection, [txn(1), txn(2)])
    # t3 is missing at the bank's side: t4's balance is 40, not 30.
    op = _push(client, company, connection, [txn(4, balance=Decimal("40.00"))])
    [warning] = _chain_warnings(op)
    assert warning["itemId"] == "t4"
    assert warning["validatorName"] == "BalanceChain:gap"
    chain = _account(_health(client, company, connection))["balanceChain"]
    assert chain["intact"] is False
    brk = chain["firstBreak"]
    assert (brk["kind"], brk["previousTransactionId"], brk["transactionId"]) == ("gap", "t2", "t4")
    assert Decimal(str(brk["expectedBalance"])) == Decimal("30")
    assert Decimal(str(brk["balance"])) == Decimal("40")
    assert "balance_chain_broken" in _account(_health(client, company, connection))["needsAttention"]


def test_a_duplicate_at_the_banks_side(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    # The bank sent payment 2 twice under two ids: same amount, and the balance did not move.
    op = _push(client, company, connection, [txn(1), txn(2), txn(3, balance=Decimal("20"))])
    [warning] = _chain_warnings(op)
    assert (warning["itemId"], warning["validatorName"]) == ("t3", "BalanceChain:duplicate")
    brk = _account(_health(client, company, connection))["balanceChain"]["firstBreak"]
    assert (brk["kind"], brk["previousTransactionId"], brk["transactionId"]) == ("duplicate", "t2", "t3")


def test_two_transactions_swapped(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    same = "2026-11-23T10:05:00"
    # Correct order: t1 (10 -> 10), t2 (+10 -> 20), t3 (-5 -> 15); sent as t1, t3, t2.
    op = _push(client, company, connection, [
        txn(1),
        txn(3, date=same, amount=Decimal("-5.00"), balance=Decimal("15.00"), transactionType="Debit"),
        txn(2, date=same, balance=Decimal("20.00")),
    ])
    [warning] = _chain_warnings(op)
    assert (warning["itemId"], warning["validatorName"]) == ("t3", "BalanceChain:reorder")
    brk = _account(_health(client, company, connection))["balanceChain"]["firstBreak"]
    assert (brk["kind"], brk["previousTransactionId"], brk["transactionId"]) == ("reorder", "t1", "t3")


def test_a_chain_break_between_two_pushes(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    assert _chain_warnings(_push(client, company, connection, [txn(1), txn(2)])) == []
    assert _chain_warnings(_push(client, company, connection, [txn(3)])) == []
    op = _push(client, company, connection, [txn(4, balance=Decimal("45.00"))])
    assert [w["itemId"] for w in _chain_warnings(op)] == ["t4"]


def test_a_tip_an_earlier_release_left_behind_raises_no_false_warning(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    """During a rolling upgrade an earlier release's write stores transactions without moving the
    account's chain tip: a push is checked against the transaction actually stored last."""
    company, connection, (account,) = make_linked_feed(database, clock)
    _push(client, company, connection, [txn(1), txn(2)])
    with database.unit_of_work() as s:  # what the earlier release's write leaves: t3 stored, the tip at t2
        s.add(BankTransaction(source_account_id=account.id, push_operation_key=uuid.uuid4(), transaction_id="t3",
                              date=datetime(2026, 11, 23, 10, 3), amount=Decimal("10.00"), balance=Decimal("30"),
                              transaction_type="Credit", modified_at=clock.now()))
    with database.unit_of_work() as s:
        row = s.get(SourceAccount, account.id)
        assert row is not None and row.tip_transaction_id == "t2"
    assert _chain_warnings(_push(client, company, connection, [txn(4)])) == []  # 30 + 10 = 40: it follows t3
    op = _push(client, company, connection, [txn(5, balance=Decimal("45.00"))])
    assert [w["itemId"] for w in _chain_warnings(op)] == ["t5"]


def test_quickbooks_stopped_pulling(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company = make_company(database, clock, "Stopped Pulls Ltd")
    connection = make_connection(database, clock, company, status="Linked")
    make_source_account(database, clock, connection, connected_at=clock.now() - timedelta(days=20),
                        last_pulled_at=clock.now() - timedelta(days=6))
    _push(client, company, connection, [txn(1), txn(2)])
    health = _account(_health(client, company, connection))
    assert health["lastPulledDate"] is not None
    assert health["backlog"]["count"] == 2
    assert health["daysUntilDisconnection"] == 4
    assert health["needsAttention"] == []
    clock.advance(timedelta(days=2))
    health = _account(_health(client, company, connection))
    assert health["daysUntilDisconnection"] == 2
    assert health["backlog"]["oldestAgeSeconds"] == 2 * 86400
    assert health["needsAttention"] == ["near_disconnection", "backlog_stale"]
    # A pull takes what was written before it: the backlog empties.
    with database.unit_of_work() as session:
        row = session.get(SourceAccount, _account_row_id(database, connection.id))
        assert row is not None
        row.last_pulled_at = clock.now()
    health = _account(_health(client, company, connection))
    assert health["backlog"] == {"count": 0, "oldestAcceptedAt": None, "oldestAgeSeconds": None}
    assert health["daysUntilDisconnection"] == 10


def _account_row_id(database: Database, connection_id: uuid.UUID) -> uuid.UUID:
    from sqlalchemy import select

    with database.unit_of_work() as session:
        return session.scalars(select(SourceAccount.id).where(SourceAccount.connection_id == connection_id)).one()


def test_xero_backlog_is_the_open_statements(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company = make_company(database, clock, "Xero Co")
    connection = make_connection(database, clock, company, platform_key="gbol", status="Linked")
    account = make_source_account(database, clock, connection)
    now = clock.now()

    def op(status: str, count: int, minutes_ago: int, delivery: str, error: dict[str, Any] | None = None) -> None:
        with database.unit_of_work() as session:
            key = uuid.uuid4()
            at = now - timedelta(minutes=minutes_ago)
            session.add(PushOperation(key=key, company_id=company.id, connection_id=connection.id,
                                      source_account_id="acc-1", status=status, status_code=200, requested_at=at,
                                      transaction_count=count, validation={},
                                      error_message="Xero rejected the statement" if error else None,
                                      completed_at=at if status != "Pending" else None))
            session.flush()
            session.add(StatementDelivery(push_operation_key=key, connection_id=connection.id,
                                          source_account_id=account.id, status=delivery, idempotency_key=key.hex,
                                          attempts=1, next_attempt_at=at, created_at=at, last_error=error,
                                          delivered_at=at if delivery == "delivered" else None))

    op("Success", 4, 300, "delivered")
    op("Failed", 2, 200, "rejected", {"message": "Statement balance mismatch"})
    op("Pending", 3, 90, "sent")
    op("Pending", 5, 30, "queued")
    health = _account(_health(client, company, connection))
    assert health["platform"] == "Xero"
    assert health["backlog"]["count"] == 8
    assert health["backlog"]["oldestAgeSeconds"] == 90 * 60
    assert health["lastDeliveredDate"] is not None
    assert health["daysUntilDisconnection"] is None
    assert health["lastError"]["source"] in ("statement", "push")
    assert health["lastPush"]["status"] == "Pending"


def test_company_feed_health_and_unknown_ids(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, _, _ = make_linked_feed(database, clock, accounts=("acc-1", "acc-2"))
    body = client.get(f"/companies/{company.id}/feedHealth").json()
    assert body["companyName"] == "Acme Ltd"
    assert [a["sourceAccountId"] for a in body["connections"][0]["sourceAccounts"]] == ["acc-1", "acc-2"]
    for url in (f"/companies/{uuid.uuid4()}/feedHealth", "/companies/not-an-id/feedHealth",
                f"/companies/{company.id}/connections/{uuid.uuid4()}/feedHealth",
                f"/companies/{company.id}/connections/%00/feedHealth"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["statusCode"] == 404


def test_feed_health_needs_an_api_key(anon_client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, _, _ = make_linked_feed(database, clock)
    assert anon_client.get(f"/companies/{company.id}/feedHealth").status_code == 401


def test_the_extensions_are_described_in_the_served_openapi(app: FastAPI) -> None:
    spec = app.openapi()
    ops = {op["operationId"]: op for item in spec["paths"].values() for op in item.values() if isinstance(op, dict)}
    for op_id, schema in (("bankfeeds-get-connection-feed-health", "ConnectionFeedHealth"),
                          ("bankfeeds-get-company-feed-health", "CompanyFeedHealth")):
        op = ops[op_id]
        assert op["x-bankfeeds-extension"] is True
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/" + schema)
    props = spec["components"]["schemas"]["SourceAccountFeedHealth"]["properties"]
    for name in ("backlog", "daysUntilDisconnection", "lastPulledDate", "lastDeliveredDate", "balanceChain",
                 "lastPush", "lastError", "needsAttention"):
        assert name in props


def test_the_chain_is_read_over_the_newest_500_only(client: TestClient, database: Database,
                                                    clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    base = datetime(2026, 11, 20, 8, 0)
    many = []
    for i in range(1, 601):
        # A gap at transaction 50 (the balance jumps by 5), older than the newest 500.
        many.append(txn(i, date=(base + timedelta(minutes=i)).isoformat(),
                        balance=Decimal(i * 10 + (5 if i >= 50 else 0))))
    op = _push(client, company, connection, many)
    assert [w["itemId"] for w in _chain_warnings(op)] == ["t50"]
    chain = _account(_health(client, company, connection))["balanceChain"]
    assert chain == {"checkedTransactions": 500, "intact": True, "firstBreak": None}
