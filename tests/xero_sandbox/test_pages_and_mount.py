"""The Xero-like pages, and the sandbox mounted inside a demo-mode hub (sharing its clock)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from bankfeeds.app import create_app
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.app import LiveServer, make_settings
from tests.fixtures.xero_sandbox import DEMO_EMAIL, DEMO_PASSWORD, XeroSandboxServer, consent, pkce_pair
from tests.xero_sandbox.conftest import Linked, query_of

ORG = "Bluebird Cafe LLC"
FEEDS = "/bankfeeds.xro/1.0/FeedConnections"
STATEMENTS = "/bankfeeds.xro/1.0/Statements"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(browser: httpx.Client, base: str) -> None:
    page = browser.get(base)
    token = CSRF.search(page.text)
    assert token
    if "Log in to Xero" not in page.text:
        return  # signed in already (during consent)
    r = browser.post(base + "/identity/login", data={"csrf_token": token.group(1), "return_to": "/sandbox/xero",
                                                      "email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/sandbox/xero"


def csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found
    return found.group(1)


def test_home_shows_feeds_lines_and_statements_and_removes_a_feed(linked: Linked, browser: httpx.Client) -> None:
    server = linked.server
    fid = linked.post(FEEDS, {"items": [{"accountToken": "chk", "accountNumber": "482100007315",
                                         "accountName": "Checking", "accountType": "BANK", "currency": "USD"}]},
                      ORG).json()["items"][0]["id"]
    body = {"items": [{"feedConnectionId": fid, "startDate": "2026-11-23", "endDate": "2026-11-24",
                       "startBalance": {"amount": "100", "creditDebitIndicator": "CREDIT"},
                       "endBalance": {"amount": "80.5", "creditDebitIndicator": "CREDIT"},
                       "statementLines": [
                           {"postedDate": "2026-11-23", "amount": "12.5", "creditDebitIndicator": "DEBIT",
                            "transactionId": "old", "description": "Coffee beans", "payeeName": "Roastery"},
                           {"postedDate": "2026-11-24", "amount": "7", "creditDebitIndicator": "DEBIT",
                            "transactionId": "new", "description": "Milk <b>", "reference": "R-9"}]}]}
    assert linked.post(STATEMENTS, body, ORG).status_code == 202
    sign_in(browser, server.base)
    orgs = {name: tid for name, tid in linked.tenants.items()}
    home = browser.get(server.base, params={"org": orgs[ORG]})
    assert home.status_code == 200
    html = home.text
    assert "Bank feed active" in html and "Delivered" in html  # processed lazily by the page
    assert html.index('data-transaction-id="new"') < html.index('data-transaction-id="old"')  # newest first
    assert "Milk &lt;b&gt;" in html and "$12.50" in html and "Roastery" in html
    assert "No bank feed" in html  # the other bank accounts
    confirm = browser.get(server.base + f"/feeds/{fid}/remove")
    assert confirm.status_code == 200 and "Remove the bank feed from Business Checking?" in confirm.text
    no_token = browser.post(server.base + f"/feeds/{fid}/remove")
    assert no_token.status_code == 403
    removed = browser.post(server.base + f"/feeds/{fid}/remove", data={"csrf_token": csrf(confirm.text)})
    assert removed.status_code == 303 and "notice=removed" in removed.headers["location"]
    assert linked.get(f"{FEEDS}/{fid}", ORG).json()["type"] == "bank-feed-not-found"
    after = browser.get(server.url + removed.headers["location"]).text
    assert "The bank feed was removed" in after and 'data-transaction-id="new"' in after  # lines stay
    assert browser.get(server.base + f"/feeds/{fid}/remove").status_code == 404


def test_fault_and_limit_forms(linked: Linked, browser: httpx.Client) -> None:
    server = linked.server
    sign_in(browser, server.base)
    home = browser.get(server.base)
    token = csrf(home.text)
    org = linked.tenants[ORG]
    r = browser.post(server.base + "/faults", data={"csrf_token": token, "kind": "500", "count": "1",
                                                    "retry_after": "5", "tenant": org, "org": org})
    assert r.status_code == 303
    assert "Armed: 500 (1 left)" in browser.get(server.url + r.headers["location"]).text
    assert linked.get(FEEDS, ORG).status_code == 500
    bad = browser.post(server.base + "/faults", data={"csrf_token": token, "kind": "boom", "org": org})
    assert bad.status_code == 400 and "text/html" in bad.headers["content-type"]
    off = browser.post(server.base + "/limits", data={"csrf_token": token, "enabled": "off", "org": org})
    assert off.status_code == 303 and server.sandbox.limits.enabled is False
    assert browser.get(server.base + "/nowhere").status_code == 404


def test_pages_fit_a_phone(xero_sandbox: XeroSandboxServer) -> None:
    css = httpx.get(xero_sandbox.base + "/static/xero.css").text
    assert "@media (max-width: 600px)" in css and "overflow-x: auto" in css
    page = httpx.get(xero_sandbox.base)
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


@pytest.fixture
def demo_hub(database: Database, db_url: str) -> Iterator[tuple[LiveServer, FrozenClock]]:
    clock = FrozenClock(__import__("tests.fixtures.app", fromlist=["NOW"]).NOW)
    settings = make_settings(db_url, demo=True, xero_client_secret="hub-xero-secret")
    app = create_app(settings, clock=clock, database=database, run_worker=False)
    with LiveServer(app) as server:
        yield server, clock


def test_mounted_in_a_demo_hub_with_the_hubs_app_and_clock(demo_hub: tuple[LiveServer, FrozenClock]) -> None:
    server, clock = demo_hub
    base = server.url + "/sandbox/xero"
    verifier, challenge = pkce_pair()
    url = base + "/identity/connect/authorize?" + "&".join(f"{k}={v}" for k, v in {
        "response_type": "code", "client_id": "bankfeeds-demo-xero-client",
        "redirect_uri": "http://testserver/link/xero/callback", "scope": "offline_access%20bankfeeds%20"
        "accounting.settings.read", "state": "hub-state", "code_challenge": challenge,
        "code_challenge_method": "S256"}.items())
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        location = consent(browser, url, email=DEMO_EMAIL, password=DEMO_PASSWORD, organisations=[ORG])
        assert location.startswith("http://testserver/link/xero/callback?")
        code = query_of(location)["code"]
        tokens = httpx.post(base + "/identity/connect/token", auth=("bankfeeds-demo-xero-client", "hub-xero-secret"),
                            data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                  "redirect_uri": "http://testserver/link/xero/callback"})
        assert tokens.status_code == 200
        wrong = httpx.post(base + "/identity/connect/token", auth=("bankfeeds-demo-xero-client", "nope"),
                           data={"grant_type": "refresh_token", "refresh_token": "x"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        api = httpx.Client(base_url=base + "/api", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})
        tenant = api.get("/connections").json()[0]["tenantId"]
        missing = api.get("/bankfeeds.xro/1.0/Nothing", headers={"Xero-Tenant-Id": tenant})
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
        # The demo clock is the hub's: "Advance one day" moves it.
        home = browser.get(base)
        assert "Advance one day" in home.text
        before = clock.now()
        moved = browser.post(base + "/clock/advance", data={"csrf_token": csrf(home.text)})
        assert moved.status_code == 303 and clock.now() - before == timedelta(days=1)
        assert date.fromisoformat("2026-11-25") == clock.now().date()
        api.close()


def test_not_mounted_outside_demo_mode(app: object) -> None:
    with TestClient(app, raise_server_exceptions=False) as c:  # type: ignore[arg-type]
        r = c.get("/sandbox/xero/api/connections")
        assert r.status_code == 404
        assert "xero" not in r.headers.get("content-type", "") and "problem" not in r.headers.get("content-type", "")
