"""End to end with Codat's official Python SDK (codat-bankfeeds 13.0.0) against the live server.

A client's whole journey, through the SDK only: company, QuickBooks connection, a batch of
source accounts, credentials; the SMB links (done here through the service layer, as the IDX and
link flows would); 2,500 transactions in batches of at most 1,000; the push operations read back;
a rule failure provoked and read; unlink, delete. Retries are off, so every status the server
gives is the one the SDK saw.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from codat_bankfeeds import CodatBankFeeds
from codat_bankfeeds.models import errors
from fastapi.testclient import TestClient

from bankfeeds.companies import service as companies
from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import ConnectionStatus
from bankfeeds.source_accounts import service as source_accounts
from tests.xero_link.helpers import link_through

TOTAL = 2500
BATCH = 1000


def link_the_feed(database: Database, clock: FrozenClock, settings: Settings, company_id: str,
                  connection_id: str) -> None:
    """What the SMB does in QuickBooks: every source account connected, the connection Linked."""
    with database.unit_of_work() as session:
        company = companies.get(session, uuid.UUID(company_id))
        connection = connections.get(session, company, uuid.UUID(connection_id))
        for account in source_accounts.list_accounts(session, connection):
            source_accounts.mark_connected(session, clock, settings, company, connection, account,
                                           feed_start_date=clock.now() - timedelta(days=7))
        connections.set_status(session, clock, settings, company, connection, ConnectionStatus.LINKED)


def link_the_feed_connection(database: Database, clock: FrozenClock, settings: Settings, company_id: str,
                             connection_id: str) -> None:
    """The SMB authorised the platform: the connection is Linked (accounts left as they are)."""
    with database.unit_of_work() as session:
        company = companies.get(session, uuid.UUID(company_id))
        connection = connections.get(session, company, uuid.UUID(connection_id))
        connections.set_status(session, clock, settings, company, connection, ConnectionStatus.LINKED)


def transactions(start: datetime, first: int, count: int, balance: Decimal) -> tuple[list[dict[str, Any]], Decimal]:
    rows = []
    for i in range(first, first + count):
        amount = Decimal(i % 97 + 1) / 4 * (1 if i % 3 else -1)
        balance += amount
        rows.append({
            "id": f"txn-{i:05d}",
            "date": (start + timedelta(seconds=30 * i)).strftime("%Y-%m-%dT%H:%M:%S"),
            "description": f"Card payment {i}",
            "amount": amount,
            "balance": balance,
            "transactionType": "Credit" if amount > 0 else "Debit",
        })
    return rows, balance


def test_a_client_journey_through_the_official_sdk(
    sdk: CodatBankFeeds, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    # Company and QuickBooks connection.
    company = sdk.companies.create(request={"name": "Bank of Dave", "description": "SDK e2e"})
    assert company.name == "Bank of Dave" and company.redirect
    connection = sdk.connections.create(
        request={"company_id": company.id, "request_body": {"platform_key": "hcws"}})
    assert connection.status == "PendingAuth" and connection.integration_key == "hcws"
    # Codat's OTPs are 6 characters; ours are signed (expiry, nonce, MAC: 32 base32 characters) so
    # handing one out writes nothing (connections/otp.py). The linkUrl is opaque to clients.
    assert re.search(r"[?&]otp=[A-Z2-7]{32}$", connection.link_url)
    # A second connection on the company is refused (409, which the spec does not list for
    # create-connection: the SDK raises its generic SDKError, carrying status and body).
    with pytest.raises(errors.CodatBankFeedsError) as refused:
        sdk.connections.create(request={"company_id": company.id, "request_body": {"platform_key": "hcws"}})
    assert refused.value.status_code == 409 and "connection" in refused.value.body

    # Source accounts, in one batch (v2 shapes).
    ids = {"company_id": company.id, "connection_id": connection.id}
    accounts = [
        {"id": f"acc-{n}", "accountName": f"Checking {n}", "accountType": "checking", "accountNumber": f"0000{n}",
         "currency": "USD", "balance": Decimal("1000.00"), "routingInfo": {"bankCode": "021000021", "type": "rtn"}}
        for n in range(1, 4)
    ]
    batch = sdk.source_accounts.create_batch(request={**ids, "request_body": accounts})
    created = _batch_items(batch)
    assert sorted(item["sourceAccountId"] for item in created) == ["acc-1", "acc-2", "acc-3"]
    listed = sdk.source_accounts.list(request=ids)
    listed_items = [_dump(a) for a in _items(listed)]
    assert sorted(a["id"] for a in listed_items) == ["acc-1", "acc-2", "acc-3"]
    assert {a["status"] for a in listed_items} == {"pending"}

    # Credentials for QuickBooks (the body has no schema; the SDK sends what it is given).
    credentials = sdk.source_accounts.generate_credentials(request={**ids, "request_body": b"{}"})
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", credentials.username)
    assert len(credentials.password) == 16

    link_the_feed(database, clock, settings, company.id, connection.id)
    assert sdk.connections.get(request=ids).status == "Linked"

    # 2,500 transactions to acc-1, in batches of at most 1,000, oldest first.
    start = clock.now().replace(tzinfo=None) - timedelta(days=1)
    balance = Decimal("1000.00")
    keys = []
    for first in range(0, TOTAL, BATCH):
        rows, balance = transactions(start, first, min(BATCH, TOTAL - first), balance)
        op = sdk.transactions.create(request={
            **ids, "account_id": "acc-1",
            "create_bank_transactions": {"accountId": "acc-1", "transactions": rows},
        })
        assert op.status == "Success", _dump(op)
        assert op.status_code == 200 and op.company_id == company.id and op.data_connection_key == connection.id
        keys.append(op.push_operation_key)
    assert len(keys) == 3

    # The push operations, read back.
    history = sdk.transactions.list_create_operations(request={"company_id": company.id, "page_size": 10})
    assert history.total_results == 3
    assert sorted(o.push_operation_key for o in history.results) == sorted(keys)
    for key in keys:
        op = sdk.transactions.get_create_operation(request={"company_id": company.id, "push_operation_key": key})
        assert op.status == "Success"

    # A rule failure: a transaction older than the newest already written to the account.
    stale, _ = transactions(start - timedelta(days=1), 0, 1, balance)
    stale[0]["id"] = "txn-stale"
    failed = sdk.transactions.create(request={
        **ids, "account_id": "acc-1", "create_bank_transactions": {"accountId": "acc-1", "transactions": stale},
    })
    assert failed.status == "Failed" and failed.status_code == 400
    read = sdk.transactions.get_create_operation(
        request={"company_id": company.id, "push_operation_key": failed.push_operation_key})
    assert read.status == "Failed" and read.error_message
    assert read.validation is not None and read.validation.errors
    assert read.validation.errors[0].item_id == "txn-stale"

    # A malformed write is refused before any push operation exists (400, documented).
    with pytest.raises(errors.ErrorMessage) as bad:
        sdk.transactions.create(request={
            **ids, "account_id": "acc-1",
            "create_bank_transactions": {"accountId": "acc-2", "transactions": stale},
        })
    assert bad.value.status_code == 400 and bad.value.data.correlation_id
    assert sdk.transactions.list_create_operations(request={"company_id": company.id}).total_results == 4

    # Unlink, then delete.
    unlinked = sdk.connections.unlink(request={**ids, "request_body": {"status": "Unlinked"}})
    assert unlinked.status == "Unlinked"
    assert sdk.connections.delete(request=ids) is None
    with pytest.raises(errors.ErrorMessage) as gone:
        sdk.connections.get(request=ids)
    assert gone.value.status_code == 404
    assert sdk.companies.delete(request={"company_id": company.id}) is None
    with pytest.raises(errors.ErrorMessage) as gone:
        sdk.companies.get(request={"company_id": company.id})
    assert gone.value.status_code == 404 and gone.value.data.error == f"No company was found with ID {company.id}"


def test_sdk_sees_undocumented_400s_as_sdk_errors(sdk: CodatBankFeeds) -> None:
    """Evidence for the contract test's choice: a bad body on update-company gets our 400, which
    the spec does not list there; the SDK raises its generic error with the status and our body."""
    company = sdk.companies.create(request={"name": "Bank of Dave"})
    with pytest.raises(errors.CodatBankFeedsError) as bad:
        sdk.companies.update(request={"company_id": company.id, "company_update_request": {"name": ""}})
    assert bad.value.status_code == 400
    assert '"statusCode":400' in bad.value.body


def test_idempotency_key_through_the_sdk(sdk: CodatBankFeeds) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = sdk.companies.create(request={"name": "Bank of Dave"}, http_headers=headers)
    again = sdk.companies.create(request={"name": "Bank of Dave"}, http_headers=headers)
    assert again.id == first.id
    assert sdk.companies.list(request={}).total_results == 1


def test_the_other_sdk_calls(sdk: CodatBankFeeds, database: Database, clock: FrozenClock, settings: Settings,
                             browser: TestClient, xero_browser: httpx.Client) -> None:
    """Every other SDK method we serve, once: on QuickBooks, then on Xero (mapping, tenant info)."""
    company = sdk.companies.create(request={"name": "Replace me", "tags": {"region": "us"}})
    replaced = sdk.companies.replace(request={"company_id": company.id,
                                              "company_request_body": {"name": "Replaced"}})
    assert replaced.name == "Replaced" and not replaced.tags
    qbo = sdk.connections.create(request={"company_id": company.id, "request_body": {"platform_key": "hcws"}})
    page = sdk.connections.list(request={"company_id": company.id})
    assert page.total_results == 1 and page.results[0].id == qbo.id
    ids = {"company_id": company.id, "connection_id": qbo.id}

    single = _dump(sdk.source_accounts.create(request={**ids, "request_body": {
        "id": "v1-acc", "accountName": "Old style", "accountType": "Debit", "accountNumber": "12",
        "sortCode": "040004", "currency": "USD", "balance": Decimal("5.10")}}))
    assert single["id"] == "v1-acc" and single["accountType"] == "Debit" and single["status"] == "pending"
    updated = _dump(sdk.source_accounts.update(request={**ids, "account_id": "v1-acc", "source_account": {
        "id": "v1-acc", "accountName": "Renamed"}}))
    assert updated["accountName"] == "Renamed" and updated["accountNumber"] == "12"
    model = sdk.transactions.get_create_model(request={**ids, "account_id": "v1-acc"})
    assert model.type == "Object" and model.properties is not None and "transactions" in model.properties
    with pytest.raises(errors.ErrorMessage) as otp:
        sdk.source_accounts.generate_otp(request=ids)  # Sage only
    assert otp.value.status_code == 400 and "Sage" in otp.value.data.error
    assert sdk.source_accounts.delete_credentials(request=ids) is None
    assert sdk.source_accounts.delete(request={**ids, "account_id": "v1-acc"}) is None
    assert _items(sdk.source_accounts.list(request=ids)) == []

    xero_company = sdk.companies.create(request={"name": "Xero Co"})
    xero = sdk.connections.create(request={"company_id": xero_company.id, "request_body": {"platform_key": "gbol"}})
    xids = {"company_id": xero_company.id, "connection_id": xero.id}
    sdk.source_accounts.create_batch(request={**xids, "request_body": [
        {"id": "x-1", "accountName": "Xero checking", "accountType": "checking", "accountNumber": "1",
         "currency": "GBP", "sortCode": "040004", "balance": Decimal("0"),
         "routingInfo": {"bankCode": "040004", "type": "sortcode"}}]})
    mappings = [_dump(m) for m in sdk.account_mapping.get(request=xids)]
    assert [(m["sourceAccountId"], m["status"]) for m in mappings] == [("x-1", "pending")]
    # The SMB follows the linkUrl and consents in Xero (the sandbox, over HTTP).
    link_through(browser, xero_browser, xero.link_url)
    info = sdk.company_information.get(request=xids)
    assert info.company_name == "Acme Trading Ltd"
    mapped = _dump(sdk.account_mapping.create(
        request={**xids, "bank_feed_account_mapping": {"sourceAccountId": "x-1"}}))
    assert mapped["sourceAccountId"] == "x-1" and mapped["status"] == "connected"
    assert mapped["targetAccountId"]  # no target given: a new account is made in the ledger


def _dump(model: Any) -> Any:
    if hasattr(model, "actual_instance"):
        model = model.actual_instance
    if isinstance(model, list):
        return [_dump(m) for m in model]
    if hasattr(model, "model_dump"):
        return model.model_dump(by_alias=True, mode="json")
    return model


def _items(response: Any) -> list[Any]:
    value = response.actual_instance if hasattr(response, "actual_instance") else response
    return list(value)


def _batch_items(response: Any) -> list[dict[str, Any]]:
    dumped = _dump(response)
    return list(dumped if isinstance(dumped, list) else dumped.get("results", dumped))
