"""IDX pulls: shapes as the spec, scoping between companies, modifiedDate windows, paging, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Connection, SourceAccount
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.fixtures.reads import events
from tests.idx.helpers import IDX, add_transactions, idx_headers, new_credentials, reload


def _feed(database: Database, clock: FrozenClock, name: str = "Acme", accounts: tuple[str, ...] = ("acc-1",),
          **fields: object) -> tuple[Connection, list[SourceAccount]]:
    company = make_company(database, clock, name)
    connection = make_connection(database, clock, company)
    return connection, [make_source_account(database, clock, connection, a, **fields) for a in accounts]  # type: ignore[arg-type]


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_accounts_shape(client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock) -> None:
    connection, _ = _feed(database, clock, balance=Decimal("1234.5600"), account_name="Business Checking",
                          account_info={"nickname": "Ops", "availableBalance": Decimal("1200.01"),
                                        "accountOpenDate": "2020-01-01"},
                          routing_info={"bankCode": "021000021", "type": "aba"})
    make_source_account(database, clock, connection, "card-1", account_type="creditCard", balance=Decimal("-50"))
    make_source_account(database, clock, connection, "v1-acc", shape_version=1, account_type="Debit",
                        sort_code="40-47-84", currency="GBP")
    pair = new_credentials(client, connection)
    r = anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["pageNumber"] == 1 and body["totalResults"] == 3 and body["pageSize"] >= 3
    assert "_links" not in body
    by_id = {a["id"]: a for a in body["results"]}
    checking = by_id["acc-1"]
    assert checking["accountType"] == "deposit" and checking["primaryCurrency"] == "USD"
    assert checking["accountDisplayInfo"] == {"displayName": "Business Checking", "description": "Business Checking",
                                              "nickname": "Ops"}
    info = checking["depositAccountInfo"]
    assert info["accountSubType"] == "checking"
    assert info["depositBalance"]["currentBalance"] == {"currency": "USD", "amount": "1234.5600"}
    assert info["depositBalance"]["availableBalance"] == {"currency": "USD", "amount": "1200.01"}
    assert checking["bankRoutingInfo"] == [{"id": "021000021", "type": "aba"}]
    assert checking["accountOpenDate"] == "2020-01-01" and checking["status"] == "open"
    assert checking["creditCardAccountInfo"] is None and checking["loanAccountInfo"] is None
    assert checking["modifiedDate"].endswith("Z")
    card = by_id["card-1"]
    assert card["accountType"] == "creditcard" and card["depositAccountInfo"] is None
    assert card["creditCardAccountInfo"]["creditCardBalance"]["currentBalance"]["amount"] == "-50"
    v1 = by_id["v1-acc"]
    assert v1["accountType"] == "deposit" and v1["bankRoutingInfo"] == [{"id": "40-47-84", "type": "sortcode"}]


def test_transactions_shape_and_money_as_strings(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection, (account,) = _feed(database, clock)
    add_transactions(database, clock, account, [at(20), at(21)], amounts=[Decimal("-100"), Decimal("0.10")],
                     transaction_type="Debit", counterparty="Mrs Lorem", reference="785090")
    pair = new_credentials(client, connection)
    r = anon_client.get(f"{IDX}/accounts/acc-1/transactions", headers=idx_headers(*pair))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalResults"] == 2 and "_links" not in body
    debit, credit = body["results"]
    assert debit == {
        "transactionId": "t-0", "accountId": "acc-1", "accountType": "deposit",
        "transactionDate": "2026-11-20", "postedDate": "2026-11-20", "fundsAvailableDate": "2026-11-20",
        "transactionDescription": "Txn 0", "payeeName": "Mrs Lorem", "referenceNumber": "785090",
        "amount": {"currency": "USD", "amount": "-100"}, "transactionValueType": "DEBIT",
        "transactionMutability": False, "status": "POSTED",
        "depositTransactionInfo": {"depositTransactionType": "debit"},
        "cashCardTransactionInfo": None, "creditCardTransactionInfo": None,
        "lineOfCreditTransactionInfo": None, "loanTransactionInfo": None,
        "modifiedDate": "2026-11-20T12:00:00Z",
    }
    assert credit["amount"] == {"currency": "USD", "amount": "0.10"} and credit["transactionValueType"] == "CREDIT"


def test_credentials_see_only_their_own_connection(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    conn_a, (acc_a,) = _feed(database, clock, "Alpha", ("shared-id",))
    conn_b, (acc_b, only_b) = _feed(database, clock, "Beta", ("shared-id", "only-b"))
    add_transactions(database, clock, acc_a, [at(20)], prefix="alpha")
    add_transactions(database, clock, acc_b, [at(20), at(21)], prefix="beta")
    add_transactions(database, clock, only_b, [at(20)], prefix="beta-only")
    pair_a, pair_b = new_credentials(client, conn_a), new_credentials(client, conn_b)

    accounts_a = anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair_a)).json()
    accounts_b = anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair_b)).json()
    assert [a["id"] for a in accounts_a["results"]] == ["shared-id"] and accounts_a["totalResults"] == 1
    assert sorted(a["id"] for a in accounts_b["results"]) == ["only-b", "shared-id"]

    txns_a = anon_client.get(f"{IDX}/accounts/shared-id/transactions", headers=idx_headers(*pair_a)).json()
    assert [t["transactionId"] for t in txns_a["results"]] == ["alpha-0"]
    r = anon_client.get(f"{IDX}/accounts/only-b/transactions", headers=idx_headers(*pair_a))
    assert r.status_code == 404 and r.json()["service"] == "PullApi"
    assert "only-b" in r.json()["error"]
    # The failed pull touched nothing of B's.
    assert reload(database, SourceAccount, only_b.id).last_pulled_at is None


def test_window_filters_on_modified_date_start_inclusive_end_exclusive(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection, (account,) = _feed(database, clock)
    instants = [at(20, 23, 59), at(21, 0, 0), at(21, 18), at(22, 0, 0), at(23, 9)]
    # The transaction date is long before: the filter must ignore it and use modifiedDate.
    add_transactions(database, clock, account, instants, date=datetime(2025, 1, 1))
    pair = new_credentials(client, connection)

    def ids(**params: str) -> list[str]:
        r = anon_client.get(f"{IDX}/accounts/acc-1/transactions", params=params, headers=idx_headers(*pair))
        assert r.status_code == 200, r.text
        assert r.json()["totalResults"] == len(r.json()["results"])
        return [t["transactionId"] for t in r.json()["results"]]

    assert ids(startDate="2026-11-21", endDate="2026-11-22") == ["t-1", "t-2"]
    assert ids(startDate="2026-11-21") == ["t-1", "t-2", "t-3", "t-4"]
    assert ids(endDate="2026-11-21") == ["t-0"]
    assert ids(startDate="2026-11-22", endDate="2026-11-22") == []
    assert ids() == ["t-0", "t-1", "t-2", "t-3", "t-4"]
    assert ids(startDate="2026-11-24") == []
    assert ids(startDate="2026-11-21T18:00:00Z") == ["t-2", "t-3", "t-4"]


def test_paging_is_stable_and_counts_the_window(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection, (account,) = _feed(database, clock)
    same_instant = at(21, 8)
    # Seven rows, five sharing one modifiedDate: ties are ordered by insertion.
    add_transactions(database, clock, account, [at(22), *[same_instant] * 5, at(20)])
    pair = new_credentials(client, connection)

    def page(**params: str) -> dict:  # type: ignore[type-arg]
        r = anon_client.get(f"{IDX}/accounts/acc-1/transactions", params=params, headers=idx_headers(*pair))
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    seen = []
    for n in (1, 2, 3, 4):
        body = page(page=str(n), pageSize="2")
        assert body["pageNumber"] == n and body["pageSize"] == 2 and body["totalResults"] == 7
        seen += [t["transactionId"] for t in body["results"]]
    assert seen == ["t-6", "t-1", "t-2", "t-3", "t-4", "t-5", "t-0"]
    assert page(pageNumber="2", pageSize="3")["results"][0]["transactionId"] == "t-3"
    empty = page(page="9", pageSize="2")
    assert empty["results"] == [] and empty["totalResults"] == 7
    windowed = page(startDate="2026-11-21", endDate="2026-11-22", pageSize="2", page="3")
    assert windowed["totalResults"] == 5 and [t["transactionId"] for t in windowed["results"]] == ["t-5"]
    default = page()
    assert default["pageSize"] == 1000 and len(default["results"]) == 7
    assert page(pageSize="2000")["pageSize"] == 2000


def test_bad_input_is_400_and_changes_nothing(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection, (account,) = _feed(database, clock, status="pending")
    pair = new_credentials(client, connection)
    headers = idx_headers(*pair)
    bad = [
        {"startDate": "2026-13-01"}, {"startDate": "yesterday"}, {"endDate": "2026-11-31"},
        {"startDate": "2026-11-22", "endDate": "2026-11-21"}, {"startDate": "2026-11-21T25:00:00"},
        {"startDate": "x" * 5000},
        {"pageSize": "0"}, {"pageSize": "2001"}, {"pageSize": "-1"}, {"pageSize": "ten"}, {"page": "0"},
        {"page": "1.5"}, {"page": "99999999999"}, {"page": "1", "pageNumber": "2"},
    ]
    for params in bad:
        r = anon_client.get(f"{IDX}/accounts/acc-1/transactions", params=params, headers=headers)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["service"] == "PullApi" and r.json()["statusCode"] == 400
    for params in ({"pageSize": "0"}, {"page": "x"}):
        assert anon_client.get(f"{IDX}/accounts", params=params, headers=headers).status_code == 400
    for extra in ({"X-Feed-Start-Date": "2026-02-30"}, {"X-Feed-Start-Date": "2026-11-25"},
                  {"X-Target-Account-Id": "x" * 201}):
        r = anon_client.get(f"{IDX}/accounts/acc-1/transactions", headers={**headers, **extra})
        assert r.status_code == 400, (extra, r.text)
    # Unknown accounts and routes are 404, wrong methods 405, in the same envelope.
    for path in ("/accounts/nope/transactions", "/accounts/acc-1", "/nothing-here"):
        r = anon_client.get(IDX + path, headers=headers)
        assert r.status_code == 404 and r.json()["service"] == "PullApi", path
    r = anon_client.post(f"{IDX}/accounts", headers=headers)
    assert r.status_code == 405 and r.json()["service"] == "PullApi"
    # None of it linked the connection, connected the account or stamped a pull.
    assert reload(database, Connection, connection.id).status == "PendingAuth"
    after = reload(database, SourceAccount, account.id)
    assert after.status == "pending" and after.last_pulled_at is None
    assert events(database) == []


def test_big_page_of_a_big_window(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection, (account,) = _feed(database, clock)
    base = at(23)
    add_transactions(database, clock, account, [base + timedelta(seconds=i) for i in range(1200)])
    pair = new_credentials(client, connection)
    r = anon_client.get(f"{IDX}/accounts/acc-1/transactions", params={"startDate": "2026-11-23"},
                        headers=idx_headers(*pair))
    body = r.json()
    assert body["totalResults"] == 1200 and len(body["results"]) == 1000
    r = anon_client.get(f"{IDX}/accounts/acc-1/transactions", params={"startDate": "2026-11-23", "page": "2"},
                        headers=idx_headers(*pair))
    assert [t["transactionId"] for t in r.json()["results"]] == [f"t-{i}" for i in range(1000, 1200)]
