"""get/create-bank-account-mapping on Xero (gbol) connections, and QuickBooks' refusal."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection
from tests.fixtures.reads import events
from tests.source_accounts.helpers import (
    V1,
    V2,
    accounts_url,
    assert_error,
    connection_status,
    create,
    exact,
    feed,
    mapping_url,
    send,
    stored,
)
from tests.xero_link.helpers import link

CONNECTED = "bankFeeds.sourceAccount.connected"


def xero(client: TestClient, database: Database, clock: FrozenClock, status: str = "Linked",
         browser: TestClient | None = None, xero_browser: httpx.Client | None = None) -> tuple[Company, Connection]:
    """A Xero connection with a GBP debit account and a USD credit card. Linked: to the sandbox's
    "Acme Trading Ltd" (GBP, with a USD account) through the hosted pages and Xero's consent."""
    if status == "Linked":
        assert browser is not None and xero_browser is not None
        company, connection, r = link(client, browser, xero_browser, database, clock)
        assert r.status_code == 303, r.text
    else:
        company, connection = feed(database, clock, platform="gbol", status=status)
    create(client, company, connection, V1)  # GBP, Debit
    create(client, company, connection, {**V2, "accountType": "creditCard"})  # USD, credit card
    return company, connection


def mappings(client: TestClient, company: Company, connection: Connection) -> dict[str, dict[str, Any]]:
    r = client.get(mapping_url(company, connection))
    assert r.status_code == 200, r.text
    return {m["sourceAccountId"]: m for m in exact(r)}


def test_get_lists_each_source_account_with_the_organisations_options(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock
) -> None:
    company, connection = xero(client, database, clock, browser=browser, xero_browser=xero_browser)
    items = mappings(client, company, connection)
    debit = items["acc-v1"]
    assert {k: v for k, v in debit.items() if k != "targetAccountOptions"} == {
        "sourceAccountId": "acc-v1", "sourceAccountName": "Business Current", "sourceAccountNumber": "12345670",
        "sourceBalance": Decimal("99.99"), "sourceCurrency": "GBP", "targetAccountId": None, "status": "pending",
        "feedStartDate": None,
    }
    names = [o["name"] for o in debit["targetAccountOptions"]]
    assert names == ["Business Current Account", "Business Savings Account"]
    # Acme has no USD credit card: nothing to offer but a new account.
    assert items["acc-v2"]["targetAccountOptions"] == []
    for option in debit["targetAccountOptions"]:
        uuid.UUID(option["id"])
        assert set(option) == {"id", "name", "balance", "sortCode", "accountNumber"}
    # Stable across calls.
    assert mappings(client, company, connection)["acc-v1"] == debit


def test_no_options_before_the_connection_is_linked(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company, connection = xero(client, database, clock, status="PendingAuth")
    assert all(m["targetAccountOptions"] == [] for m in mappings(client, company, connection).values())
    r = client.post(mapping_url(company, connection), json={"sourceAccountId": "acc-v1"})
    assert_error(r, 400, "PendingAuth", "Linked")
    assert stored(database, connection, "acc-v1").status == "pending"  # type: ignore[union-attr]


def test_mapping_to_an_option_connects_the_account(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock
) -> None:
    company, connection = xero(client, database, clock, browser=browser, xero_browser=xero_browser)
    option = mappings(client, company, connection)["acc-v1"]["targetAccountOptions"][1]
    r = client.post(mapping_url(company, connection),
                    json={"sourceAccountId": "acc-v1", "targetAccountId": option["id"],
                          "feedStartDate": "2026-11-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    # Xero (the sandbox) has the feed by the time the mapping polls it once: connected.
    assert r.json() == {"sourceAccountId": "acc-v1", "targetAccountId": option["id"], "status": "connected"}
    item = mappings(client, company, connection)["acc-v1"]
    assert item["status"] == "connected" and item["targetAccountId"] == option["id"]
    assert item["targetAccountName"] == option["name"] and item["targetAccountOptions"] is None
    assert item["feedStartDate"] == "2026-11-01"
    listed = {a["id"]: a for a in client.get(accounts_url(company, connection)).json()}
    assert listed["acc-v1"]["status"] == "connected" and listed["acc-v1"]["feedStartDate"] == "2026-11-01"
    sent = events(database, CONNECTED)
    assert len(sent) == 1 and sent[0]["payload"]["sourceAccount"]["id"] == "acc-v1"
    assert sent[0]["payload"]["connectionId"] == str(connection.id)
    # Posting the same mapping again succeeds and records nothing new.
    again = client.post(mapping_url(company, connection),
                        json={"sourceAccountId": "acc-v1", "targetAccountId": option["id"]})
    assert again.status_code == 200 and again.json()["status"] == "connected"
    assert len(events(database, CONNECTED)) == 1
    # The connection itself is not moved by a mapping.
    assert connection_status(database, connection) == "Linked"


def test_mapping_without_a_target_creates_one_named_after_the_source(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock
) -> None:
    company, connection = xero(client, database, clock, browser=browser, xero_browser=xero_browser)
    r = client.post(mapping_url(company, connection), json={"sourceAccountId": "acc-v2", "targetAccountId": None})
    assert r.status_code == 200, r.text
    target = r.json()["targetAccountId"]
    uuid.UUID(target)
    item = mappings(client, company, connection)["acc-v2"]
    assert item["targetAccountId"] == target and item["targetAccountName"] == "Checking"
    assert item["status"] == "connected"
    assert item["feedStartDate"] == "2026-11-24"  # today by the clock


def test_a_held_target_fails_and_a_remap_needs_a_disconnect(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock
) -> None:
    company, connection = xero(client, database, clock, browser=browser, xero_browser=xero_browser)
    create(client, company, connection, {**V1, "id": "second"})
    options = mappings(client, company, connection)["acc-v1"]["targetAccountOptions"]
    url = mapping_url(company, connection)
    assert client.post(url, json={"sourceAccountId": "acc-v1", "targetAccountId": options[0]["id"]}).status_code == 200
    # The held target is no longer offered to the other GBP account, and mapping it fails.
    second = mappings(client, company, connection)["second"]["targetAccountOptions"]
    assert [o["id"] for o in second] == [options[1]["id"]]
    r = client.post(url, json={"sourceAccountId": "second", "targetAccountId": options[0]["id"]})
    assert r.status_code == 200
    assert r.json() == {"sourceAccountId": "second", "targetAccountId": options[0]["id"], "status": "Failed",
                        "error": "A feed connection already exists to this account"}
    assert stored(database, connection, "second").status == "pending"  # type: ignore[union-attr]
    # A connected account cannot be moved to another target without disconnecting first.
    r = client.post(url, json={"sourceAccountId": "acc-v1", "targetAccountId": options[1]["id"]})
    assert r.status_code == 200 and r.json()["status"] == "Failed" and "disconnect" in r.json()["error"]
    patch = client.patch(accounts_url(company, connection) + "/acc-v1", json={"id": "acc-v1", "status": "disconnected"})
    assert patch.status_code == 200
    assert connection_status(database, connection) == "Linked"  # Xero stays linked
    r = client.post(url, json={"sourceAccountId": "acc-v1", "targetAccountId": options[1]["id"]})
    assert r.status_code == 200 and r.json()["status"] == "connected", r.text
    assert len(events(database, CONNECTED)) == 2
    # The first target is free again once its account is deleted or moved.
    r = client.post(url, json={"sourceAccountId": "second", "targetAccountId": options[0]["id"]})
    assert r.status_code == 200 and r.json()["status"] == "connected", r.text


def test_delete_removes_the_mapping(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock
) -> None:
    company, connection = xero(client, database, clock, browser=browser, xero_browser=xero_browser)
    option = mappings(client, company, connection)["acc-v1"]["targetAccountOptions"][0]
    client.post(mapping_url(company, connection), json={"sourceAccountId": "acc-v1", "targetAccountId": option["id"]})
    assert client.delete(accounts_url(company, connection) + "/acc-v1").status_code == 204
    assert "acc-v1" not in mappings(client, company, connection)
    create(client, company, connection, {**V1, "id": "again"})
    assert option["id"] in {o["id"] for o in mappings(client, company, connection)["again"]["targetAccountOptions"]}


def test_bad_mapping_requests(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock
) -> None:
    company, connection = xero(client, database, clock, browser=browser, xero_browser=xero_browser)
    url = mapping_url(company, connection)
    for raw, needle in [(b"", "empty"), (b"{", "not valid JSON"), (b"[]", "dictionary"),
                        (b"{}", "sourceAccountId"), (b'{"sourceAccountId": 5}', "sourceAccountId"),
                        (b'{"sourceAccountId": "acc-v1", "targetAccountId": 5}', "targetAccountId"),
                        (b'{"sourceAccountId": "acc-v1", "feedStartDate": "soon"}', "feedStartDate"),
                        (b'{"sourceAccountId": "acc-v1", "status": "connected"}', "status"),
                        (b'{"sourceAccountId": "acc-v1", "targetAccountId": "not-an-option"}', "not one of")]:
        assert_error(send(client, "POST", url, raw), 400, needle)
    assert_error(client.post(url, json={"sourceAccountId": "missing"}), 404, "missing")
    assert_error(client.post(url, json={"sourceAccountId": "acc\u0000"}), 400, "sourceAccountId", "NUL")
    missing = str(uuid.uuid4())
    assert_error(client.post(mapping_url(missing, connection), json={"sourceAccountId": "acc-v1"}), 404, missing)
    assert_error(client.get(mapping_url(company, missing)), 404, missing)
    assert all(m["status"] == "pending" for m in mappings(client, company, connection).values())
    assert events(database, CONNECTED) == []


def test_quickbooks_maps_inside_quickbooks(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock, platform="hcws", status="Linked")
    create(client, company, connection, V1)
    r = client.post(mapping_url(company, connection), json={"sourceAccountId": "acc-v1"})
    assert_error(r, 400, "QuickBooks Online", "inside QuickBooks Online")
    # GET documents no 400: the same explanation comes as a 404.
    assert_error(client.get(mapping_url(company, connection)), 404, "QuickBooks Online")
    assert stored(database, connection, "acc-v1").status == "pending"  # type: ignore[union-attr]
