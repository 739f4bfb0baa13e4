"""Account mapping of a Xero connection, through the API and the hosted page, against the sandbox."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import text

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection
from tests.fixtures.reads import events
from tests.fixtures.xero_sandbox import XeroSandboxServer
from tests.source_accounts.helpers import V1, V2, assert_error, create, exact, mapping_url, stored
from tests.xero_link.helpers import link, new_xero_connection

CONNECTED = "bankFeeds.sourceAccount.connected"
DISCONNECTED = "bankFeeds.sourceAccount.disconnected"
CARD = {"id": "card", "accountName": "Business Visa", "accountType": "Credit", "accountNumber": "4000001234569876",
        "sortCode": "400001", "currency": "GBP", "balance": -12.5}
SAVER = {"id": "saver", "accountName": "Rainy Day Saver", "accountType": "Debit", "accountNumber": "55501234",
         "sortCode": "200001", "currency": "GBP", "balance": 500}


def mappings(client: TestClient, company: Company, connection: Connection) -> dict[str, dict[str, Any]]:
    r = client.get(mapping_url(company, connection))
    assert r.status_code == 200, r.text
    return {m["sourceAccountId"]: m for m in exact(r)}


def names(item: dict[str, Any]) -> list[str]:
    return [o["name"] for o in item["targetAccountOptions"]]


def option(item: dict[str, Any], name: str) -> str:
    return str(next(o["id"] for o in item["targetAccountOptions"] if o["name"] == name))


def live_feeds(xero_sandbox: XeroSandboxServer) -> list[dict[str, Any]]:
    with xero_sandbox.database.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT f.account_token, f.status, a.name FROM xero_sandbox_feed_connections f "
            "JOIN xero_sandbox_accounts a ON a.id = f.account_id WHERE f.status != 'DELETED'")).all()
    return [{"token": r[0], "status": r[1], "account": r[2]} for r in rows]


def linked_with_accounts(client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database,
                         clock: FrozenClock, name: str = "Acme Ltd") -> tuple[Company, Connection]:
    company, connection, r = link(client, browser, xero_browser, database, clock, name=name)
    assert r.status_code == 303, r.text
    for body in (V1, CARD, V2, SAVER):
        create(client, company, connection, body)
    return company, connection


def test_options_come_from_the_organisation_chart(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
) -> None:
    company, connection = linked_with_accounts(client, browser, xero_browser, database, clock)
    items = mappings(client, company, connection)
    # BANK accounts for debit/checking, CREDITCARD for credit cards, same currency only.
    assert names(items["acc-v1"]) == ["Business Current Account", "Business Savings Account"]
    assert names(items["card"]) == ["Company Credit Card"]
    assert names(items["acc-v2"]) == ["US Dollar Account"]
    debit = items["acc-v1"]
    assert {k: v for k, v in debit.items() if k != "targetAccountOptions"} == {
        "sourceAccountId": "acc-v1", "sourceAccountName": "Business Current", "sourceAccountNumber": "12345670",
        "sourceBalance": debit["sourceBalance"], "sourceCurrency": "GBP", "targetAccountId": None,
        "status": "pending", "feedStartDate": None,
    }
    for o in debit["targetAccountOptions"]:
        uuid.UUID(o["id"])
        assert set(o) == {"id", "name", "balance", "sortCode", "accountNumber"}


def test_map_existing_and_new_accounts_and_post_again(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer,
) -> None:
    company, connection = linked_with_accounts(client, browser, xero_browser, database, clock)
    items = mappings(client, company, connection)
    current = option(items["acc-v1"], "Business Current Account")
    body = {"sourceAccountId": "acc-v1", "targetAccountId": current, "feedStartDate": "2026-11-01T00:00:00Z"}
    r = client.post(mapping_url(company, connection), json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"sourceAccountId": "acc-v1", "targetAccountId": current, "status": "connected"}
    connected = events(database, CONNECTED)
    assert [e["payload"]["sourceAccount"]["id"] for e in connected] == ["acc-v1"]
    row = stored(database, connection, "acc-v1")
    assert row is not None and row.feed_connection_id and row.account_token == f"bf-{row.id.hex}"
    assert [(f["account"], f["token"]) for f in live_feeds(xero_sandbox)] == [
        ("Business Current Account", row.account_token)]
    # Posting the same mapping again succeeds and changes nothing.
    again = client.post(mapping_url(company, connection), json=body)
    assert again.status_code == 200 and again.json()["status"] == "connected"
    assert len(events(database, CONNECTED)) == 1 and len(live_feeds(xero_sandbox)) == 1
    # "Create new account": Xero makes an account named after the source account.
    new = client.post(mapping_url(company, connection), json={"sourceAccountId": "card"})
    assert new.status_code == 200 and new.json()["status"] == "connected", new.text
    assert sorted(f["account"] for f in live_feeds(xero_sandbox)) == ["Business Current Account", "Business Visa"]
    items = mappings(client, company, connection)
    assert items["acc-v1"]["status"] == "connected" and items["acc-v1"]["targetAccountOptions"] is None
    assert items["acc-v1"]["targetAccountName"] == "Business Current Account"
    assert items["acc-v1"]["feedStartDate"] == "2026-11-01"
    assert items["card"]["targetAccountId"] == new.json()["targetAccountId"]
    # A fed account is no longer offered; the other GBP account still is.
    assert names(items["saver"]) == ["Business Savings Account"]
    # A target held by another source account of the connection: Codat's Failed answer.
    held = client.post(mapping_url(company, connection), json={"sourceAccountId": "saver", "targetAccountId": current})
    assert held.status_code == 200
    assert held.json()["status"] == "Failed" and "already exists" in held.json()["error"]
    # Remapping a connected account elsewhere needs a disconnect first.
    other = option(items["saver"], "Business Savings Account")
    moved = client.post(mapping_url(company, connection), json={"sourceAccountId": "acc-v1", "targetAccountId": other})
    assert moved.json()["status"] == "Failed" and "disconnect" in moved.json()["error"]


def test_a_target_fed_under_another_company_is_a_400(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
) -> None:
    first, first_connection = linked_with_accounts(client, browser, xero_browser, database, clock, "First Ltd")
    current = option(mappings(client, first, first_connection)["acc-v1"], "Business Current Account")
    assert client.post(mapping_url(first, first_connection),
                       json={"sourceAccountId": "acc-v1", "targetAccountId": current}).status_code == 200
    second, second_connection = linked_with_accounts(client, browser, xero_browser, database, clock, "Second Ltd")
    # Not offered (Xero lists the app's feeds)...
    assert "Business Current Account" not in names(mappings(client, second, second_connection)["acc-v1"])
    # ...and refused when asked for all the same.
    r = client.post(mapping_url(second, second_connection), json={"sourceAccountId": "acc-v1",
                                                                  "targetAccountId": current})
    assert_error(r, 400, "another company", "First Ltd")
    assert stored(database, second_connection, "acc-v1").status == "pending"  # type: ignore[union-attr]


def test_xero_rejects_the_feed(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer,
) -> None:
    """Another app already feeds the account: it looks free to us, and Xero rejects the feed."""
    company, connection = linked_with_accounts(client, browser, xero_browser, database, clock)
    savings = option(mappings(client, company, connection)["acc-v1"], "Business Savings Account")
    with xero_sandbox.database.unit_of_work() as session:
        session.execute(text("INSERT INTO xero_sandbox_clients (client_id, name, secret_hash, redirect_uris, "
                             "created_at) VALUES ('other-app', 'Other bank', 'x', '[]', :now)"),
                        {"now": clock.now()})
        org = session.execute(text("SELECT organisation_id FROM xero_sandbox_accounts WHERE id = :id"),
                              {"id": uuid.UUID(savings).hex if database.dialect == "sqlite" else savings}).scalar()
        session.execute(text(
            "INSERT INTO xero_sandbox_feed_connections (id, client_id, organisation_id, account_id, account_token, "
            "live_token, live_account_id, account_type, currency, status, created_at) VALUES (:id, 'other-app', "
            ":org, :acc, 'other-token', 'other-token', :acc, 'BANK', 'GBP', 'ACTIVE', :now)"),
            {"id": uuid.uuid4().hex if database.dialect == "sqlite" else str(uuid.uuid4()), "org": org,
             "acc": uuid.UUID(savings).hex if database.dialect == "sqlite" else savings, "now": clock.now()})
    r = client.post(mapping_url(company, connection), json={"sourceAccountId": "acc-v1", "targetAccountId": savings})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "Failed" and "already has a bank feed" in body["error"]
    row = stored(database, connection, "acc-v1")
    assert row is not None and row.status == "pending" and row.feed_connection_id is None
    assert row.feed_error and "feed-already-connected-in-current-organisation" in row.feed_error
    assert events(database, CONNECTED) == []


def test_mapping_needs_a_linked_connection(
    client: TestClient, database: Database, clock: FrozenClock,
) -> None:
    company, connection, _ = new_xero_connection(client, database, clock)
    create(client, company, connection, V1)
    assert mappings(client, company, connection)["acc-v1"]["targetAccountOptions"] == []
    assert_error(client.post(mapping_url(company, connection), json={"sourceAccountId": "acc-v1"}), 400,
                 "PendingAuth", "Linked")
    info = client.get(f"/companies/{company.id}/connections/{connection.id}/bankFeeds/info")
    assert_error(info, 400, "no working Xero authorization")


def test_mapping_page_connect_manage_and_disconnect(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer,
) -> None:
    company, connection = linked_with_accounts(client, browser, xero_browser, database, clock)
    base = f"/link/companies/{company.id}/connections/{connection.id}/xero/accounts"
    page = browser.get(base)
    assert page.status_code == 200, page.text
    assert "Business Current Account" in page.text and "Create new account: Business Visa" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    current = option(mappings(client, company, connection)["acc-v1"], "Business Current Account")
    r = browser.post(base + "/connect", data={"csrf_token": csrf.group(1), "account_id": "acc-v1", "target": current,
                                              "start_date": "2026-11-02"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=connected")
    r = browser.post(base + "/connect", data={"csrf_token": csrf.group(1), "account_id": "card", "target": "new",
                                              "start_date": "2026-11-02"})
    assert r.status_code == 303
    manage = browser.get(base)
    assert "Manage connected accounts" in manage.text and manage.text.count("Disconnect</button>") == 2
    assert len(live_feeds(xero_sandbox)) == 2
    # A form without the session's CSRF token changes nothing.
    assert browser.post(base + "/disconnect", data={"csrf_token": "nope", "account_id": "acc-v1"}).status_code == 403
    r = browser.post(base + "/disconnect", data={"csrf_token": csrf.group(1), "account_id": "acc-v1"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=disconnected")
    assert [f["account"] for f in live_feeds(xero_sandbox)] == ["Business Visa"]
    row = stored(database, connection, "acc-v1")
    assert row is not None and row.status == "disconnected" and row.feed_connection_id is None
    assert [e["payload"]["sourceAccount"]["id"] for e in events(database, DISCONNECTED)] == ["acc-v1"]
    # The connection stays Linked with one feed left; a fresh linkUrl opens this page again.
    link_url = client.get(f"/companies/{company.id}/connections/{connection.id}").json()["linkUrl"]
    assert open_link_to_manage(browser, link_url).endswith("/xero/accounts")


def open_link_to_manage(browser: TestClient, link_url: str) -> str:
    r = browser.get(link_url)
    r = browser.get(r.headers["location"])
    return str(r.headers["location"])


def test_delete_removes_feeds_in_xero_and_revokes(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer,
) -> None:
    company, connection = linked_with_accounts(client, browser, xero_browser, database, clock)
    assert client.post(mapping_url(company, connection), json={"sourceAccountId": "card"}).status_code == 200
    assert len(live_feeds(xero_sandbox)) == 1
    r = client.delete(f"/companies/{company.id}/connections/{connection.id}")
    assert r.status_code == 200, r.text
    assert live_feeds(xero_sandbox) == []
    with xero_sandbox.database.engine.connect() as conn:
        revoked = conn.execute(text("SELECT revoked_at FROM xero_sandbox_grants")).scalars().all()
    assert revoked and all(v is not None for v in revoked)
    paths = [c["path"] for c in xero_sandbox.calls()]
    assert any(p.endswith("/FeedConnections/DeleteRequests") for p in paths)
    assert len(events(database, "connection.deleted")) == 1


def test_delete_goes_on_when_xero_fails(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer,
) -> None:
    company, connection = linked_with_accounts(client, browser, xero_browser, database, clock)
    assert client.post(mapping_url(company, connection), json={"sourceAccountId": "card"}).status_code == 200
    xero_sandbox.fault("500", 10)
    r = client.delete(f"/companies/{company.id}/connections/{connection.id}")
    assert r.status_code == 200, r.text
    assert client.get(f"/companies/{company.id}/connections/{connection.id}").status_code == 404
    assert len(events(database, "connection.deleted")) == 1


def test_deleting_the_company_removes_its_feeds_in_xero(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer,
) -> None:
    company, connection = linked_with_accounts(client, browser, xero_browser, database, clock)
    assert client.post(mapping_url(company, connection), json={"sourceAccountId": "card"}).status_code == 200
    assert len(live_feeds(xero_sandbox)) == 1
    assert client.delete(f"/companies/{company.id}").status_code == 204
    assert live_feeds(xero_sandbox) == []
    assert len(events(database, "company.deleted")) == 1 and len(events(database, "connection.deleted")) == 1


def test_source_account_disconnected_or_deleted_through_the_api_ends_its_feed(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer,
) -> None:
    company, connection = linked_with_accounts(client, browser, xero_browser, database, clock)
    for account in ("card", "acc-v1"):
        assert client.post(mapping_url(company, connection), json={"sourceAccountId": account}).status_code == 200
    assert len(live_feeds(xero_sandbox)) == 2
    url = f"/companies/{company.id}/connections/{connection.id}/connectionInfo/bankFeedAccounts"
    r = client.patch(url + "/card", json={"id": "card", "status": "disconnected"})
    assert r.status_code == 200 and r.json()["status"] == "disconnected"
    assert [f["account"] for f in live_feeds(xero_sandbox)] == ["Business Current"]
    assert client.delete(url + "/acc-v1").status_code == 204
    assert live_feeds(xero_sandbox) == []


def test_hostile_input_is_a_clear_4xx(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
) -> None:
    company, connection = linked_with_accounts(client, browser, xero_browser, database, clock)
    url = mapping_url(company, connection)
    for body in ({"sourceAccountId": "acc-v1", "targetAccountId": "x\u0000y"},
                 {"sourceAccountId": "acc-v1", "targetAccountId": " "},
                 {"sourceAccountId": "acc-v1", "targetAccountId": "é" * 200},
                 {"sourceAccountId": "acc-v1", "feedStartDate": "2026-13-45"}):
        r = client.post(url, json=body)
        assert r.status_code == 400, (body, r.text)
    base = f"/link/companies/{company.id}/connections/{connection.id}/xero"
    page = browser.get(base + "/accounts")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    for data in ({"account_id": "acc\u0000"}, {"account_id": "acc-v1", "target": "x\u0000"},
                 {"account_id": "acc-v1", "start_date": "yesterday"}, {"account_id": "x" * 500},
                 {"account_id": "missing"}):
        r = browser.post(base + "/accounts/connect", data={"csrf_token": csrf.group(1), **data})
        assert 200 <= r.status_code < 500 and r.status_code != 303, (data, r.status_code, r.text[:300])
        assert "text/html" in r.headers["content-type"]
    for query in ("?code=" + "c" * 5000, "?state=%00&code=x", "?error=" + "e" * 300, "?state=" + "s" * 300):
        assert 400 <= browser.get("/link/xero/callback" + query).status_code < 500
    chosen = browser.post(base + "/organisations", data={"csrf_token": csrf.group(1), "tenant_id": "\u0000"})
    assert 300 <= chosen.status_code < 500
    assert stored(database, connection, "acc-v1").status == "pending"  # type: ignore[union-attr]
