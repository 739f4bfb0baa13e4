"""The demo bank: Connect, webhooks verified with svix, Publish, Disconnect, against a live hub."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from svix.webhooks import Webhook

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import DemoAccount, DemoCustomer, DemoTransaction, DemoWebhookMessage
from tests.sandbox.live_hub import Hub, b64, count, csrf

BANK = "/demo/bank"


def press(browser: httpx.Client, button: str) -> httpx.Response:
    page = browser.get(BANK)
    assert page.status_code == 200, page.text
    return browser.post(f"{BANK}/{button}", data={"csrf_token": csrf(page.text)})


def customer(hub: Hub) -> DemoCustomer:
    with hub.database.unit_of_work() as session:
        return session.scalars(select(DemoCustomer)).one()


def qbo_signs_in(hub: Hub, link_url: str) -> tuple[str, str]:
    """What the customer and QuickBooks do: credentials from the hub, then an IDX call with them."""
    m = re.search(r"/link/companies/([^/]+)/connections/([^/]+)/start\?otp=", link_url)
    assert m, link_url
    username, password = hub.credentials(m.group(1), m.group(2))
    headers = {"Authorization": "Basic " + b64(f"{username}:{password}"),
               "X-Partner-Key": b64(hub.settings.idx_partner_key)}
    accounts = httpx.get(f"{hub.url}/partners/intuit/idx/accounts", headers=headers)
    assert accounts.status_code == 200, accounts.text
    for account in accounts.json()["results"]:  # the first pull of each account connects it
        today = hub.clock.now().date()
        r = httpx.get(f"{hub.url}/partners/intuit/idx/accounts/{account['id']}/transactions", headers=headers,
                      params={"startDate": (today - timedelta(days=30)).isoformat(),
                              "endDate": (today + timedelta(days=1)).isoformat()})
        assert r.status_code == 200, r.text
    return username, password


def linked(hub: Hub, browser: httpx.Client) -> str:
    r = press(browser, "connect")
    assert r.status_code == 303, r.text
    qbo_signs_in(hub, r.headers["location"])
    hub.drain()
    return r.headers["location"]


def test_connect_sets_up_company_connection_accounts_and_sends_the_customer_to_the_link_url(
    hub: Hub, browser: httpx.Client
) -> None:
    r = press(browser, "connect")
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"{hub.url}/link/companies/")
    assert "/start?otp=" in r.headers["location"]

    bank = customer(hub)
    company = hub.get(f"/companies/{bank.hub_company_id}")
    assert company["name"] == "Maple Street Bakery LLC"
    connection = hub.get(f"/companies/{bank.hub_company_id}/connections/{bank.hub_connection_id}")
    assert connection["integrationKey"] == "hcws" and connection["status"] == "PendingAuth"
    accounts = hub.get(f"/companies/{bank.hub_company_id}/connections/{bank.hub_connection_id}"
                       "/connectionInfo/bankFeedAccounts")
    assert {(a["id"], a["accountType"], a["status"]) for a in accounts} == {
        ("chk-7315", "checking", "pending"), ("cc-9042", "creditCard", "pending")}
    consumers = hub.get("/webhooks")["results"]
    assert [c["url"] for c in consumers] == [f"{hub.url}{BANK}/webhooks"]

    # Connect again (the customer came back): same company and connection, a fresh one-time password.
    again = press(browser, "connect")
    assert again.status_code == 303 and again.headers["location"] != r.headers["location"]
    assert customer(hub).hub_connection_id == bank.hub_connection_id
    assert len(hub.get("/webhooks")["results"]) == 1


def test_status_comes_from_verified_webhooks(hub: Hub, browser: httpx.Client) -> None:
    r = press(browser, "connect")
    hub.drain()  # connection.created is delivered, signed, to the bank's endpoint
    assert customer(hub).feed_status == "PendingAuth"
    assert 'id="feed-status">Waiting for you in QuickBooks' in browser.get(BANK).text

    qbo_signs_in(hub, r.headers["location"])
    hub.drain()
    assert customer(hub).feed_status == "Linked"
    page = browser.get(BANK).text
    assert 'id="feed-status">Connected' in page
    assert "connection.connected" in page and 'id="publish"' in page
    with hub.database.unit_of_work() as session:
        kinds = set(session.scalars(select(DemoWebhookMessage.event_type)))
    assert {"connection.created", "connection.connected", "bankFeeds.sourceAccount.connected"} <= kinds


def _signed(hub: Hub, secret: str, event: dict[str, Any], msg_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    now = datetime.now(UTC)  # the receiver checks the wall clock, as svix does
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
               "content-type": "application/json"}
    return body, headers


def test_webhooks_with_a_bad_signature_are_refused_and_repeats_are_ignored(hub: Hub, browser: httpx.Client) -> None:
    linked(hub, browser)
    bank = customer(hub)
    before = count(hub.database, DemoWebhookMessage)
    event = {"id": "e1", "eventType": "connection.disconnected",
             "generatedDate": (hub.clock.now() + timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
             "payload": {"connection": {"id": str(bank.hub_connection_id), "status": "Unlinked"}}}
    forged, headers = _signed(hub, "whsec_" + b64("not-the-secret-at-all-32-bytes!!"), event, "msg_forged")
    r = httpx.post(f"{hub.url}{BANK}/webhooks", content=forged, headers=headers)
    assert r.status_code == 400 and "signature" in r.json()["error"]
    stale = dict(headers, **{"webhook-timestamp": str(int(time.time()) - 3600)})
    assert httpx.post(f"{hub.url}{BANK}/webhooks", content=forged, headers=stale).status_code == 400
    assert httpx.post(f"{hub.url}{BANK}/webhooks", content=b"{}").status_code == 400
    assert count(hub.database, DemoWebhookMessage) == before
    assert customer(hub).feed_status == "Linked"

    # A genuine message applies once, however often it is delivered.
    from bankfeeds.demo.service import secrets_vault
    from bankfeeds.models import DemoWebhookEndpoint

    with hub.database.unit_of_work() as session:
        endpoint = session.scalars(select(DemoWebhookEndpoint)).one()
    secret = secrets_vault(hub.settings.secret_key).decrypt(endpoint.signing_secret_encrypted)
    body, headers = _signed(hub, secret, event, "msg_genuine")
    first = httpx.post(f"{hub.url}{BANK}/webhooks", content=body, headers=headers)
    second = httpx.post(f"{hub.url}{BANK}/webhooks", content=body, headers=headers)
    assert first.json() == {"received": True, "duplicate": False}
    assert second.json() == {"received": True, "duplicate": True}
    assert customer(hub).feed_status == "Unlinked"
    assert count(hub.database, DemoWebhookMessage) == before + 1


def test_publish_sends_new_transactions_once_in_order_and_within_a_week(hub: Hub, browser: httpx.Client) -> None:
    linked(hub, browser)
    r = press(browser, "publish")
    assert r.status_code == 303 and "sent=" in r.headers["location"]
    sent_first = int(r.headers["location"].split("sent=")[1])
    today = hub.clock.now().date()
    with hub.database.unit_of_work() as session:
        rows = list(session.scalars(select(DemoTransaction)))
    published = [t for t in rows if t.published_at is not None]
    assert len(published) == sent_first > 0
    assert all(t.booked_on >= today - timedelta(days=7) for t in published)
    assert all(t.published_at is None for t in rows if t.booked_on < today - timedelta(days=7))

    # QuickBooks reads them back over IDX: exactly the checking account's published transactions.
    bank = customer(hub)
    username, password = hub.credentials(str(bank.hub_company_id), str(bank.hub_connection_id))
    headers = {"Authorization": "Basic " + b64(f"{username}:{password}"),
               "X-Partner-Key": b64(hub.settings.idx_partner_key)}
    idx = httpx.get(f"{hub.url}/partners/intuit/idx/accounts/chk-7315/transactions", headers=headers).json()
    with hub.database.unit_of_work() as session:
        checking = session.scalars(select(DemoAccount).where(DemoAccount.source_account_id == "chk-7315")).one()
    expected = {str(t.id): t for t in published if t.account_id == checking.id}
    assert {t["transactionId"]: t["amount"]["amount"] for t in idx["results"]} == {
        tid: format(t.amount, "f") for tid, t in expected.items()}

    r = press(browser, "publish")  # two new ones per account; nothing sent twice
    assert r.status_code == 303 and r.headers["location"].endswith("sent=4")
    with hub.database.unit_of_work() as session:
        assert session.scalar(select(DemoTransaction).where(DemoTransaction.published_at.is_(None),
                                                            DemoTransaction.booked_on >= today)) is None


def test_disconnect_deletes_the_connection_and_connect_makes_a_new_one(hub: Hub, browser: httpx.Client) -> None:
    linked(hub, browser)
    bank = customer(hub)
    r = press(browser, "disconnect")
    assert r.status_code == 303
    hub.get(f"/companies/{bank.hub_company_id}/connections/{bank.hub_connection_id}", status=404)
    page = browser.get(BANK).text
    assert 'id="feed-status">Disconnected' in page and 'id="connect"' in page
    hub.drain()  # connection.deleted arrives for a connection the bank already let go
    assert customer(hub).feed_status == "Disconnected"

    again = press(browser, "connect")
    assert again.status_code == 303
    renewed = customer(hub)
    assert renewed.hub_company_id == bank.hub_company_id and renewed.hub_connection_id != bank.hub_connection_id
    accounts = hub.get(f"/companies/{renewed.hub_company_id}/connections/{renewed.hub_connection_id}"
                       "/connectionInfo/bankFeedAccounts")
    assert len(accounts) == 2


@pytest.mark.parametrize("button", ["publish", "disconnect"])
def test_publish_and_disconnect_need_a_connection(hub: Hub, browser: httpx.Client, button: str) -> None:
    r = press(browser, button)
    assert r.status_code == 409
    assert "text/html" in r.headers["content-type"]
    assert ("Connect to QuickBooks first" in r.text) or ("no QuickBooks connection" in r.text)
    assert customer(hub).hub_company_id is None


def test_without_an_api_key_connect_explains_what_to_set(hub: Hub, browser: httpx.Client) -> None:
    hub.app.state.demo_bank.api_key = None
    r = press(browser, "connect")
    assert r.status_code == 409 and "BANKFEEDS_DEMO_API_KEY" in r.text
    assert hub.get("/companies")["totalResults"] == 0


def test_forms_without_a_valid_csrf_token_are_refused(hub: Hub, browser: httpx.Client) -> None:
    browser.get(BANK)
    for button in ("connect", "publish", "disconnect"):
        r = browser.post(f"{BANK}/{button}", data={"csrf_token": "forged"})
        assert r.status_code == 403 and "security token" in r.text
    assert hub.get("/companies")["totalResults"] == 0


def test_an_unreachable_hub_is_a_clear_502_and_changes_nothing(hub: Hub, browser: httpx.Client) -> None:
    from tests.fixtures.app import free_port

    hub.app.state.demo_bank.hub_url = f"http://127.0.0.1:{free_port()}"
    r = press(browser, "connect")
    assert r.status_code == 502 and "could not be reached" in r.text
    assert customer(hub).hub_company_id is None


def test_events_of_the_same_instant_apply_in_lifecycle_order(hub: Hub, browser: httpx.Client) -> None:
    from bankfeeds.demo.service import secrets_vault
    from bankfeeds.models import DemoWebhookEndpoint

    linked(hub, browser)  # created and connected were generated at the same (frozen) instant
    bank = customer(hub)
    assert bank.feed_status == "Linked"
    with hub.database.unit_of_work() as session:
        endpoint = session.scalars(select(DemoWebhookEndpoint)).one()
    secret = secrets_vault(hub.settings.secret_key).decrypt(endpoint.signing_secret_encrypted)
    stamp = bank.feed_status_at.isoformat().replace("+00:00", "Z") if bank.feed_status_at else ""
    late = {"id": "e2", "eventType": "connection.created", "generatedDate": stamp,
            "payload": {"connection": {"id": str(bank.hub_connection_id), "status": "PendingAuth"}}}
    body, headers = _signed(hub, secret, late, "msg_late_created")
    assert httpx.post(f"{hub.url}{BANK}/webhooks", content=body, headers=headers).status_code == 200
    assert customer(hub).feed_status == "Linked"


def test_a_production_hub_serves_no_demo_surfaces(database: Database, db_url: str, clock: FrozenClock) -> None:
    from fastapi.testclient import TestClient

    from bankfeeds.app import create_app
    from tests.fixtures.app import make_settings

    settings = make_settings(db_url, environment="production", secret_key="a-real-secret-for-production")
    with TestClient(create_app(settings, clock=clock, database=database, run_worker=False)) as c:
        assert c.get(BANK).status_code == 404
        assert c.get("/sandbox/qbo").status_code == 404
