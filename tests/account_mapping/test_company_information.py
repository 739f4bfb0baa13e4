"""get-company-information: Xero only."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.source_accounts.helpers import V1, V2, assert_error, create, feed


def info_url(company: object, connection: object) -> str:
    return f"/companies/{company}/connections/{connection}/bankFeeds/info"


def test_xero_company_information(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock, platform="gbol", status="Linked")
    url = info_url(company.id, connection.id)
    assert client.get(url).json() == {"companyName": "Acme Ltd", "baseCurrency": "XXX", "planType": None,
                                      "multicurrencyEnabled": False, "currencies": []}
    create(client, company, connection, V1)
    assert client.get(url).json()["baseCurrency"] == "GBP"
    clock.advance(timedelta(seconds=1))
    create(client, company, connection, V2)
    body = client.get(url).json()
    assert body == {"companyName": "Acme Ltd", "baseCurrency": "GBP", "planType": None,
                    "multicurrencyEnabled": True, "currencies": ["GBP", "USD"]}
    # The name follows the company.
    assert client.patch(f"/companies/{company.id}", json={"name": "Renamed Ltd"}).status_code == 200
    assert client.get(url).json()["companyName"] == "Renamed Ltd"


def test_not_supported_for_quickbooks(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock, platform="hcws")
    assert_error(client.get(info_url(company.id, connection.id)), 400,
                 "not supported for QuickBooks Online")
    assert_error(client.get(info_url(company.id, company.id)), 404, "not found")
    assert_error(client.get(info_url("x", connection.id)), 404, "No company")
