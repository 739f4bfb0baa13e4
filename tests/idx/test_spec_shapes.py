"""IDX answers held against the pinned IDX spec (``specs/codat/Codat-Intuit-IDX.json``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.fixtures.specs import response_schema, validator
from tests.idx.helpers import IDX, add_transactions, idx_headers, new_credentials

SPEC = "Codat-Intuit-IDX.json"


def errors_of(path: str, body: object) -> list[str]:
    v = validator(SPEC, response_schema(SPEC, path, "get", "200"))
    return [f"{e.instance_path}: {e.message}" for e in v.iter_errors(body)]


def test_accounts_and_transactions_conform_to_the_idx_spec(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company = make_company(database, clock)
    connection = make_connection(database, clock, company)
    checking = make_source_account(database, clock, connection, "acc-1", balance=Decimal("10.5"))
    make_source_account(database, clock, connection, "card-1", account_type="creditCard", balance=Decimal("-50"))
    make_source_account(database, clock, connection, "v1-acc", shape_version=1, account_type="Debit",
                        sort_code="40-47-84", currency="GBP")
    add_transactions(database, clock, checking, [clock.now() - timedelta(minutes=i) for i in range(3)],
                     amounts=[Decimal("100"), Decimal("-0.0001"), Decimal("12345678901234.5678")])
    pair = new_credentials(client, connection)

    accounts = anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair))
    assert accounts.status_code == 200
    assert len(accounts.json()["results"]) == 3
    assert errors_of("/accounts", accounts.json()) == []

    txns = anon_client.get(f"{IDX}/accounts/acc-1/transactions", headers=idx_headers(*pair))
    assert txns.status_code == 200
    assert len(txns.json()["results"]) == 3
    assert errors_of("/accounts/{accountId}/transactions", txns.json()) == []
    # The validator does catch a wrong shape (so the assertions above can fail).
    broken = {**txns.json(), "results": [{**txns.json()["results"][0], "transactionValueType": "SIDEWAYS"}]}
    assert errors_of("/accounts/{accountId}/transactions", broken) != []
