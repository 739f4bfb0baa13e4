"""Codat's own Python SDK (codat-bankfeeds 13.0.0) against a live server: the transactions group."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from codat_bankfeeds import CodatBankFeeds
from codat_bankfeeds.models import errors

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.bank_transactions.helpers import stored
from tests.fixtures.factories import make_linked_feed


def dump(model: Any) -> Any:
    return model.model_dump(by_alias=True) if hasattr(model, "model_dump") else model


def test_transactions_through_the_sdk(sdk: CodatBankFeeds, database: Database, clock: FrozenClock) -> None:
    company, connection, [account] = make_linked_feed(database, clock)
    ids = {"company_id": str(company.id), "connection_id": str(connection.id), "account_id": "acc-1"}
    created = sdk.transactions.create(request={
        **ids,
        "timeout_in_minutes": 15,
        "create_bank_transactions": {"account_id": "acc-1", "transactions": [
            {"id": "s1", "date_": "2026-11-23T10:21:00", "description": "Repayment", "amount": Decimal("100"),
             "balance": Decimal("100"), "transaction_type": "Credit"},
            {"id": "s2", "date_": "2026-11-23T10:22:00", "description": "Amazon", "amount": Decimal("-100"),
             "balance": Decimal("0"), "transaction_type": "Debit"},
        ]},
    })
    body = dump(created)
    assert body["status"] == "Success" and body["statusCode"] == 200 and body["timeoutInMinutes"] == 15
    assert [r.transaction_id for r in stored(database, account)] == ["s1", "s2"]

    key = body["pushOperationKey"]
    got = dump(sdk.transactions.get_create_operation(request={"company_id": str(company.id),
                                                               "push_operation_key": key}))
    assert got["pushOperationKey"] == key and got["status"] == "Success"

    page = dump(sdk.transactions.list_create_operations(request={"company_id": str(company.id),
                                                                  "query": "status=Success"}))
    assert page["totalResults"] == 1 and page["results"][0]["pushOperationKey"] == key

    model = dump(sdk.transactions.get_create_model(request=ids))
    assert model["properties"]["transactions"]["properties"]["description"]["required"] is True

    failed = dump(sdk.transactions.create(request={**ids, "create_bank_transactions": {
        "account_id": "acc-1", "transactions": [{"id": "s0", "date_": "2026-11-23T10:00:00", "description": "old",
                                                 "amount": Decimal("1"), "balance": Decimal("1")}]}}))
    assert failed["status"] == "Failed" and failed["validation"]["errors"][0]["itemId"] == "s0"


def test_sdk_errors_are_typed(sdk: CodatBankFeeds, database: Database, clock: FrozenClock) -> None:
    company, connection, _ = make_linked_feed(database, clock)
    ids = {"company_id": str(company.id), "connection_id": str(connection.id)}
    with pytest.raises(errors.ErrorMessage) as bad:
        sdk.transactions.create(request={**ids, "account_id": "acc-1", "create_bank_transactions": {
            "account_id": "acc-2", "transactions": []}})
    assert bad.value.status_code == 400
    with pytest.raises(errors.ErrorMessage) as missing:
        sdk.transactions.create(request={**ids, "account_id": "nope", "create_bank_transactions": {
            "account_id": "nope", "transactions": []}})
    assert missing.value.status_code == 404
    with pytest.raises(errors.ErrorMessage) as unknown:
        sdk.transactions.get_create_operation(request={"company_id": str(company.id),
                                                       "push_operation_key": "8a210b68-6988-11ed-a1eb-0242ac120002"})
    assert unknown.value.status_code == 404
    with pytest.raises(errors.ErrorMessage) as query:
        sdk.transactions.list_create_operations(request={"company_id": str(company.id), "query": "nope=1"})
    assert query.value.status_code == 400
