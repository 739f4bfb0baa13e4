"""Linking a Xero organisation from the hosted pages, against the Xero sandbox over HTTP."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from bankfeeds.config import Settings
from bankfeeds.kit import crypto
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.kit.security import sha256_hex
from bankfeeds.platforms.gbol.client import open_api
from bankfeeds.platforms.gbol.tokens import ACCESS_PURPOSE, REFRESH_PURPOSE, access_for
from tests.fixtures.concurrency import at_once
from tests.fixtures.reads import events
from tests.fixtures.xero_sandbox import DEMO_EMAIL, DEMO_PASSWORD, XeroSandboxServer, consent
from tests.xero_link.helpers import authorize, callback_path, grant, link, new_xero_connection, open_link, query, status


def test_one_organisation_links_at_once(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer,
) -> None:
    company, connection, link_url = new_xero_connection(client, database, clock)
    page = open_link(browser, link_url)
    shown = browser.get(page)
    assert shown.status_code == 200 and "Connect to Xero" in shown.text
    url = authorize(browser, page)
    assert url.startswith(xero_sandbox.authorize_url + "?")
    q = query(url)
    assert q["response_type"] == ["code"] and q["client_id"] == [xero_sandbox.client_id]
    assert q["redirect_uri"] == ["http://testserver/link/xero/callback"]
    assert q["scope"] == ["offline_access accounting.settings.read bankfeeds"]
    assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
    assert len(q["state"][0]) >= 32
    location = consent(xero_browser, url, email=DEMO_EMAIL, password=DEMO_PASSWORD,
                       organisations=["Acme Trading Ltd"])
    r = browser.get(callback_path(location))
    assert r.status_code == 303 and r.headers["location"].endswith("/xero/accounts?linked=1")
    assert status(database, connection) == "Linked"
    connected = events(database, "connection.connected")
    assert len(connected) == 1 and connected[0]["payload"]["connection"]["id"] == str(connection.id)
    stored = grant(database, connection)
    assert stored is not None and stored.tenant_name == "Acme Trading Ltd" and stored.tenant_id
    assert "bankfeeds" in stored.scope
    accounts = browser.get(r.headers["location"])
    assert accounts.status_code == 200 and "Acme Trading Ltd" in accounts.text
    # The API says Linked too, and the company information comes from the organisation.
    assert client.get(f"/companies/{company.id}/connections/{connection.id}").json()["status"] == "Linked"
    info = client.get(f"/companies/{company.id}/connections/{connection.id}/bankFeeds/info")
    assert info.status_code == 200, info.text
    assert info.json() == {"companyName": "Acme Trading Ltd", "baseCurrency": "GBP", "planType": "Standard",
                           "multicurrencyEnabled": True, "currencies": ["GBP", "USD"]}


def test_tokens_are_stored_encrypted(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer, settings: Settings,
) -> None:
    _, connection, _ = link(client, browser, xero_browser, database, clock)
    stored = grant(database, connection)
    assert stored is not None
    access = crypto.decrypt(settings, stored.access_token_encrypted, purpose=ACCESS_PURPOSE)
    refresh = crypto.decrypt(settings, stored.refresh_token_encrypted, purpose=REFRESH_PURPOSE)
    # What decrypts is what Xero issued (the sandbox keeps only hashes of its tokens)...
    with xero_sandbox.database.engine.connect() as conn:
        issued = set(conn.execute(text("SELECT token_hash FROM xero_sandbox_tokens")).scalars())
    assert sha256_hex(access) in issued and sha256_hex(refresh) in issued
    # ...and neither token can be read in the hub's database.
    with database.unit_of_work() as session:
        raw = " ".join(str(v) for v in session.execute(text("SELECT * FROM xero_grants")).one())
    assert access not in raw and refresh not in raw
    assert stored.access_token_encrypted.startswith("gAAAAA")  # Fernet
    # Another purpose's key does not open it; a rotated key still does.
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(settings, stored.access_token_encrypted, purpose=REFRESH_PURPOSE)
    rotated = settings.model_copy(update={"secret_key": "a-new-key", "secret_key_previous": settings.secret_key})
    assert crypto.decrypt(rotated, stored.access_token_encrypted, purpose=ACCESS_PURPOSE) == access
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(settings.model_copy(update={"secret_key": "a-new-key"}), stored.access_token_encrypted,
                       purpose=ACCESS_PURPOSE)


def test_several_organisations_the_user_chooses(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
) -> None:
    _, connection, r = link(client, browser, xero_browser, database, clock,
                            organisations=["Bluebird Cafe LLC", "Kiwi Coffee Co"])
    assert r.status_code == 303 and r.headers["location"].endswith("/xero/organisations")
    assert status(database, connection) == "PendingAuth"
    page = browser.get(r.headers["location"])
    assert page.status_code == 200 and "Bluebird Cafe LLC" in page.text and "Kiwi Coffee Co" in page.text
    assert "Acme Trading Ltd" not in page.text
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    kiwi = re.search(r'value="([0-9a-f-]{36})"[^>]*>\s*<span[^>]*>Kiwi Coffee Co', page.text) or \
        re.search(r'value="([0-9a-f-]{36})"[^<]*<[^<]*Kiwi Coffee Co', page.text)
    assert csrf and kiwi, page.text
    chosen = browser.post(r.headers["location"], data={"csrf_token": csrf.group(1), "tenant_id": kiwi.group(1)})
    assert chosen.status_code == 303 and chosen.headers["location"].endswith("/xero/accounts?linked=1")
    assert status(database, connection) == "Linked"
    stored = grant(database, connection)
    assert stored is not None and stored.tenant_name == "Kiwi Coffee Co"
    assert len(events(database, "connection.connected")) == 1


def test_consent_refused_fails_the_link(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
) -> None:
    _, connection, link_url = new_xero_connection(client, database, clock)
    page = open_link(browser, link_url)
    location = consent(xero_browser, authorize(browser, page), email=DEMO_EMAIL, password=DEMO_PASSWORD,
                       organisations=["Acme Trading Ltd"], allow=False)
    assert query(location)["error"] == ["access_denied"]
    r = browser.get(callback_path(location))
    assert r.status_code == 200 and "did not allow" in r.text
    assert status(database, connection) == "PendingAuth" and grant(database, connection) is None
    failed = events(database, "connection.failed")
    assert len(failed) == 1
    assert failed[0]["payload"]["connection"]["dataConnectionErrors"][0]["statusText"] == "User denied access"
    assert events(database, "connection.connected") == []


def test_bad_and_replayed_state(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
) -> None:
    _, connection, link_url = new_xero_connection(client, database, clock)
    page = open_link(browser, link_url)
    location = consent(xero_browser, authorize(browser, page), email=DEMO_EMAIL, password=DEMO_PASSWORD,
                       organisations=["Acme Trading Ltd"])
    code = query(location)["code"][0]
    # A forged state: refused, connection.failed, nothing linked.
    bad = browser.get(f"/link/xero/callback?code={code}&state={'x' * 43}")
    assert bad.status_code == 400 and "could not be checked" in bad.text
    assert status(database, connection) == "PendingAuth" and grant(database, connection) is None
    assert len(events(database, "connection.failed")) == 1
    # The genuine answer still links (the forged one spent nothing).
    assert browser.get(callback_path(location)).status_code == 303
    assert status(database, connection) == "Linked"
    # Replayed: the state was single use; the linked connection is left alone.
    again = browser.get(callback_path(location))
    assert again.status_code == 400
    assert status(database, connection) == "Linked" and len(events(database, "connection.connected")) == 1


def test_state_is_bound_to_the_browser_session(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    app: object,
) -> None:
    """An attacker's callback URL opened in another browser links nothing."""
    _, connection, link_url = new_xero_connection(client, database, clock)
    page = open_link(browser, link_url)
    location = consent(xero_browser, authorize(browser, page), email=DEMO_EMAIL, password=DEMO_PASSWORD,
                       organisations=["Acme Trading Ltd"])
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as other:  # type: ignore[arg-type]
        r = other.get(callback_path(location))
    assert r.status_code == 400
    assert status(database, connection) == "PendingAuth" and grant(database, connection) is None


def test_pkce_verifier_is_required_by_the_token_endpoint(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer,
) -> None:
    """The hub sends its verifier: the code alone (no verifier) is refused by the sandbox."""
    _, _, link_url = new_xero_connection(client, database, clock)
    page = open_link(browser, link_url)
    location = consent(xero_browser, authorize(browser, page), email=DEMO_EMAIL, password=DEMO_PASSWORD,
                       organisations=["Acme Trading Ltd"])
    code = query(location)["code"][0]
    r = httpx.post(xero_sandbox.token_url, data={"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": "http://testserver/link/xero/callback"},
                   headers={"Authorization": xero_sandbox.basic_auth()})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_token_expiry_rotation_and_invalid_grant(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer,
) -> None:
    company, connection, _ = link(client, browser, xero_browser, database, clock)
    info = f"/companies/{company.id}/connections/{connection.id}/bankFeeds/info"
    first = grant(database, connection)
    assert first is not None
    # 31 minutes later the access token has expired: the hub refreshes and stores the rotated pair.
    clock.advance(timedelta(minutes=31))
    xero_sandbox.clock.advance(timedelta(minutes=31))
    assert client.get(info).status_code == 200
    second = grant(database, connection)
    assert second is not None
    assert second.refresh_token_encrypted != first.refresh_token_encrypted
    assert second.access_expires_at > first.access_expires_at
    # Within the margin nothing is refreshed.
    assert client.get(info).status_code == 200
    third = grant(database, connection)
    assert third is not None and third.refresh_token_encrypted == second.refresh_token_encrypted
    # The organisation disconnects the app in Xero: the next refresh is invalid_grant.
    with xero_sandbox.database.unit_of_work() as session:
        session.execute(text("DELETE FROM xero_sandbox_tokens"))
        session.execute(text("DELETE FROM xero_sandbox_grants"))
    clock.advance(timedelta(minutes=31))
    xero_sandbox.clock.advance(timedelta(minutes=31))
    r = client.get(info)
    assert r.status_code == 400 and "no working Xero authorization" in r.json()["error"]
    assert status(database, connection) == "Deauthorized" and grant(database, connection) is None
    disconnected = events(database, "connection.disconnected")
    assert len(disconnected) == 1 and disconnected[0]["payload"]["connection"]["status"] == "Deauthorized"


def test_linkurl_of_a_linked_connection_opens_manage(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
) -> None:
    company, connection, _ = link(client, browser, xero_browser, database, clock)
    link_url = client.get(f"/companies/{company.id}/connections/{connection.id}").json()["linkUrl"]
    r = browser.get(link_url)
    r = browser.get(r.headers["location"])
    assert r.status_code == 303 and urlsplit(r.headers["location"]).path.endswith("/xero/accounts")


def test_concurrent_refreshes_spend_the_refresh_token_once(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer, settings: Settings,
) -> None:
    """Four workers need the expired token at once: one refreshes under the row lock, the others
    read what it stored; nobody spends a refresh token twice (the grant survives)."""
    _, connection, _ = link(client, browser, xero_browser, database, clock)
    clock.advance(timedelta(minutes=31))
    xero_sandbox.clock.advance(timedelta(minutes=31))
    def worker() -> str:
        with open_api(settings, database, clock) as api:
            return access_for(database, clock, settings, api, connection.id).token

    results = at_once(*[worker] * 4)
    assert len(set(results)) == 1
    assert status(database, connection) == "Linked"
    with xero_sandbox.database.engine.connect() as conn:
        spent = conn.execute(text("SELECT count(*) FROM xero_sandbox_tokens WHERE kind = 'refresh' "
                                  "AND spent_at IS NOT NULL")).scalar()
    assert spent == 1


def test_access_logs_do_not_carry_the_oauth_code_or_state() -> None:
    import logging

    from bankfeeds.link.endpoints import RedactOtp

    path = "/link/xero/callback?code=SECRETCODE&state=SECRETSTATE&scope=bankfeeds"
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", path, "1.1", 303), None)
    assert RedactOtp().filter(record)
    message = record.getMessage()
    assert "SECRETCODE" not in message and "SECRETSTATE" not in message
    assert "code=[redacted]&state=[redacted]&scope=bankfeeds" in message


def test_cancel_on_the_xero_page_fails_the_link(
    client: TestClient, browser: TestClient, database: Database, clock: FrozenClock,
) -> None:
    import re

    company, connection, link_url = new_xero_connection(client, database, clock)
    page = browser.get(open_link(browser, link_url))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    r = browser.post(f"/link/companies/{company.id}/connections/{connection.id}/cancel",
                     data={"csrf_token": csrf.group(1)})
    assert r.status_code == 200
    failed = events(database, "connection.failed")
    assert len(failed) == 1 and status(database, connection) == "PendingAuth"


def test_a_deauthorized_connection_links_again(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
    xero_sandbox: XeroSandboxServer,
) -> None:
    company, connection, _ = link(client, browser, xero_browser, database, clock)
    with xero_sandbox.database.unit_of_work() as session:
        session.execute(text("DELETE FROM xero_sandbox_tokens"))
    clock.advance(timedelta(minutes=31))
    xero_sandbox.clock.advance(timedelta(minutes=31))
    info = f"/companies/{company.id}/connections/{connection.id}/bankFeeds/info"
    assert client.get(info).status_code == 400
    assert status(database, connection) == "Deauthorized"
    # A fresh linkUrl opens "Connect to Xero" again (saying so); consent relinks the same connection.
    link_url = client.get(f"/companies/{company.id}/connections/{connection.id}").json()["linkUrl"]
    page = open_link(browser, link_url)
    assert "no longer connected" in browser.get(page).text
    location = consent(xero_browser, authorize(browser, page), email=DEMO_EMAIL, password=DEMO_PASSWORD,
                       organisations=["Acme Trading Ltd"])
    assert browser.get(callback_path(location)).status_code == 303
    assert status(database, connection) == "Linked"
    assert len(events(database, "connection.reconnected")) == 1
    assert client.get(info).status_code == 200
