"""Codat's own Python SDK (codat-bankfeeds 13.0.0) against a live server: every operation here
parses, and the errors come back as the typed ErrorMessage where the spec documents them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from codat_bankfeeds import CodatBankFeeds
from codat_bankfeeds.models import errors
from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.xero_hub import (  # noqa: F401 (fixtures: this module's hub talks to a Xero sandbox)
    app,
    settings,
    xero_browser,
    xero_sandbox,
    xero_sandbox_db_url,
)
from tests.source_accounts.helpers import feed
from tests.xero_link.helpers import link_through


def dump(model: Any) -> Any:
    if isinstance(model, list):
        return [dump(m) for m in model]
    return model.model_dump(by_alias=True) if hasattr(model, "model_dump") else model


def test_source_account_operations_through_the_sdk(
    sdk: CodatBankFeeds, database: Database, clock: FrozenClock,
    browser: TestClient, xero_browser: httpx.Client,  # noqa: F811 (fixtures imported above)
) -> None:
    company, connection = feed(database, clock, platform="gbol", status="PendingAuth")
    ids = {"company_id": str(company.id), "connection_id": str(connection.id)}
    v2 = {"id": "sdk-v2", "account_name": "Checking", "account_type": "checking", "account_number": "1234",
          "currency": "USD", "balance": Decimal("12345678901234.5678")}
    created = dump(sdk.source_accounts.create(request={**ids, "request_body": v2}))
    assert created["id"] == "sdk-v2" and created["status"] == "pending"
    v1 = {"id": "sdk-v1", "account_name": "Card", "account_type": "Credit", "currency": "EUR",
          "balance": Decimal("-0.0001")}
    assert dump(sdk.source_accounts.create(request={**ids, "request_body": v1}))["accountType"] == "Credit"

    batch = sdk.source_accounts.create_batch(request={**ids, "request_body": [
        {"id": "b1", "account_name": "B1", "account_type": "savings", "account_number": "1", "currency": "USD",
         "balance": 1}]})
    assert dump(batch)[0]["sourceAccountId"] == "b1"
    mixed = sdk.source_accounts.create_batch(request={**ids, "request_body": [
        {"id": "b1", "account_name": "B1", "account_type": "savings", "account_number": "1", "currency": "USD",
         "balance": 1},
        {"id": "b2", "account_name": "B2", "account_type": "savings", "account_number": "2", "currency": "USD",
         "balance": 2}]})
    assert [i["sourceAccountId"] for i in dump(mixed)] == ["b1", "b2"]
    # 409 (every item conflicted) is documented with an array body, not an ErrorMessage.
    with pytest.raises(errors.CodatBankFeedsError) as conflict:
        sdk.source_accounts.create_batch(request={**ids, "request_body": [
            {"id": "b1", "account_name": "B1", "account_type": "savings", "account_number": "1", "currency": "USD",
             "balance": 1}]})
    assert conflict.value.status_code == 409 and "already exists" in str(conflict.value.body)

    listed = dump(sdk.source_accounts.list(request=ids))
    assert sorted(a["id"] for a in listed) == ["b1", "b2", "sdk-v1", "sdk-v2"]

    updated = sdk.source_accounts.update(request={**ids, "account_id": "sdk-v1",
                                                  "source_account": {"id": "sdk-v1", "account_name": "Renamed"}})
    assert dump(updated)["accountName"] == "Renamed"

    link_url = sdk.connections.get(request=ids).link_url
    link_through(browser, xero_browser, link_url, ["Bluebird Cafe LLC"])  # a USD organisation
    mapping = dump(sdk.account_mapping.get(request=ids))
    option = next(m for m in mapping if m["sourceAccountId"] == "sdk-v2")["targetAccountOptions"][0]["id"]
    mapped = dump(sdk.account_mapping.create(request={**ids, "bank_feed_account_mapping": {
        "source_account_id": "sdk-v2", "target_account_id": option}}))
    assert mapped["status"] == "connected"  # the sandbox has the feed when the mapping polls it
    info = dump(sdk.company_information.get(request=ids))
    assert info["companyName"] == "Bluebird Cafe LLC" and info["baseCurrency"] == "USD"

    assert sdk.source_accounts.delete(request={**ids, "account_id": "b2"}) is None
    with pytest.raises(errors.ErrorMessage) as missing:
        sdk.source_accounts.delete(request={**ids, "account_id": "b2"})
    assert missing.value.status_code == 404
    with pytest.raises(errors.ErrorMessage) as otp:
        sdk.source_accounts.generate_otp(request=ids)
    assert otp.value.status_code == 400 and "Sage" in otp.value.data.error
    with pytest.raises(errors.ErrorMessage) as dup:
        sdk.source_accounts.create(request={**ids, "request_body": v2})
    assert dup.value.status_code == 400
