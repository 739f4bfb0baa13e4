"""get-company-information: Xero only."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.source_accounts.helpers import V1, assert_error, create, feed
from tests.xero_link.helpers import link


def info_url(company: object, connection: object) -> str:
    return f"/companies/{company}/connections/{connection}/bankFeeds/info"


def test_xero_company_information(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock
) -> None:
    """Name, base currency, plan and currencies come from the Xero organisation (the sandbox's)."""
    company, connection, r = link(client, browser, xero_browser, database, clock, organisations=["Kiwi Coffee Co"])
    assert r.status_code == 303, r.text
    url = info_url(company.id, connection.id)
    assert client.get(url).json() == {"companyName": "Kiwi Coffee Co", "baseCurrency": "NZD",
                                      "planType": "Standard", "multicurrencyEnabled": False,
                                      "currencies": ["NZD"]}
    # Source accounts do not change what Xero says; the company's own name is not used.
    create(client, company, connection, V1)
    assert client.patch(f"/companies/{company.id}", json={"name": "Renamed Ltd"}).status_code == 200
    assert client.get(url).json()["companyName"] == "Kiwi Coffee Co"


def test_xero_company_information_needs_a_link(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock, platform="gbol", status="PendingAuth")
    assert_error(client.get(info_url(company.id, connection.id)), 400, "no working Xero authorization")


def test_not_supported_for_quickbooks(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock, platform="hcws")
    assert_error(client.get(info_url(company.id, connection.id)), 400,
                 "not supported for QuickBooks Online")
    assert_error(client.get(info_url(company.id, company.id)), 404, "not found")
    assert_error(client.get(info_url("x", connection.id)), 404, "No company")
