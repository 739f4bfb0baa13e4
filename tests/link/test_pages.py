"""The hosted link pages: OTP, session, the two pages, credentials, languages, security, bad input."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.app import create_app
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Connection, Credential, LinkOtp
from tests.fixtures.app import make_settings
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.idx.helpers import IDX, idx_headers

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE = re.compile(r"<code>([^<]+)</code>")


def link_url(client: TestClient, company_id: str) -> tuple[str, dict[str, Any]]:
    """A fresh linkUrl from create-connection through the public API."""
    r = client.post(f"/companies/{company_id}/connections", json={"platformKey": "hcws"})
    assert r.status_code == 200, r.text
    return r.json()["linkUrl"], r.json()


def fresh_link(client: TestClient, database: Database, clock: FrozenClock) -> tuple[str, str]:
    company = make_company(database, clock)
    url, body = link_url(client, str(company.id))
    return url, body["id"]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def open_link(browser: TestClient, url: str) -> str:
    r = browser.get(path_of(url))
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def assert_secure(r: Any, *, no_store: bool = True) -> None:
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    # One script, a file from this server (the Copy buttons): never inline code.
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    if no_store:
        assert r.headers["cache-control"] == "no-store"


def test_the_whole_journey(client: TestClient, browser: TestClient, anon_client: TestClient,
                           database: Database, clock: FrozenClock) -> None:
    url, connection_id = fresh_link(client, database, clock)
    assert "/link/companies/" in url and "/start?otp=" in url
    page1 = open_link(browser, url)
    assert page1.endswith(f"/connections/{connection_id}") and "otp" not in page1
    cookie = browser.cookies.get("bankfeeds_link")
    assert cookie
    r = browser.get(page1)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert_secure(r)
    assert "Connect to QuickBooks Online Bank Feeds" in r.text and "Test Bank" in r.text
    # No inline code or style: the one script is a file (the CSP would refuse anything else).
    scripts = re.findall(r"<script[^>]*>", r.text)
    assert scripts == ['<script src="/link/static/link.js" defer>'] and "style=" not in r.text
    setup = re.search(r'href="([^"]+/setup)"', r.text)
    assert setup
    r = browser.get(setup.group(1))
    assert r.status_code == 200 and "Set up QuickBooks" in r.text and "Get credentials" in r.text
    assert "Revoke credentials" not in r.text
    assert_secure(r)
    token = CSRF.search(r.text)
    assert token
    r = browser.post(setup.group(1) + "/credentials", data={"csrf_token": token.group(1)})
    assert r.status_code == 200, r.text
    assert_secure(r)
    username, password = CODE.findall(r.text)[:2]
    assert "Search for Test Bank" in r.text
    assert "Recherchez Test Bank" in r.text  # the other language, behind the in-page switch
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, password)).status_code == 200
    # Now that credentials exist, page 2 offers to revoke them all.
    r = browser.get(setup.group(1))
    assert "Revoke credentials" in r.text
    r = browser.post(setup.group(1) + "/revoke", data={"csrf_token": CSRF.search(r.text).group(1)})  # type: ignore[union-attr]
    assert r.status_code == 303 and r.headers["location"].endswith("/setup?revoked=1")
    r = browser.get(r.headers["location"])
    assert "have been revoked" in r.text and "Revoke credentials" not in r.text
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, password)).status_code == 401
    with database.unit_of_work() as session:
        assert session.get(Connection, uuid.UUID(connection_id)).status == "Linked"  # type: ignore[union-attr]


def test_otp_is_single_use_but_reloading_with_the_session_is_fine(
    client: TestClient, browser: TestClient, app: FastAPI, database: Database, clock: FrozenClock
) -> None:
    url, _ = fresh_link(client, database, clock)
    page1 = open_link(browser, url)
    # Reload of the start URL in the same browser: the session carries on.
    assert open_link(browser, url) == page1
    # Another browser with the used OTP: 401 page that says how to get a fresh link.
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as other:
        r = other.get(path_of(url))
        assert r.status_code == 401
        assert "This link has expired" in r.text and "fresh link" in r.text
        assert_secure(r)
    with database.unit_of_work() as session:
        assert session.scalars(select(LinkOtp)).all() == []


def test_otp_expires_after_one_hour(client: TestClient, browser: TestClient, database: Database,
                                    clock: FrozenClock) -> None:
    url, _ = fresh_link(client, database, clock)
    clock.advance(timedelta(minutes=60))
    r = browser.get(path_of(url))
    assert r.status_code == 401 and "This link has expired" in r.text
    assert "bankfeeds_link" not in r.headers.get("set-cookie", "")
    url2, _ = fresh_link(client, database, clock)
    clock.advance(timedelta(minutes=59))
    assert browser.get(path_of(url2)).status_code == 303


def test_every_get_connection_mints_a_working_otp(client: TestClient, app: FastAPI, database: Database,
                                                  clock: FrozenClock) -> None:
    company = make_company(database, clock)
    _, body = link_url(client, str(company.id))
    urls = [client.get(f"/companies/{company.id}/connections/{body['id']}").json()["linkUrl"] for _ in range(2)]
    urls.append(client.get(f"/companies/{company.id}/connections").json()["results"][0]["linkUrl"])
    assert len(set(urls)) == 3
    for url in urls:
        with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as b:
            assert b.get(path_of(url)).status_code == 303


def test_wrong_otps_and_paths_are_401_without_a_session(
    client: TestClient, browser: TestClient, database: Database, clock: FrozenClock
) -> None:
    url, connection_id = fresh_link(client, database, clock)
    parts = urlsplit(url)
    otp = parts.query.split("=", 1)[1]
    company_id = parts.path.split("/")[3]
    other = make_company(database, clock, "Other")
    bad = [
        parts.path,  # no otp
        parts.path + "?otp=",
        parts.path + "?otp=ZZZZZZ",
        parts.path + "?otp=" + otp + "X",
        parts.path + "?otp=" + "A" * 150,
        f"/link/companies/{other.id}/connections/{connection_id}/start?otp={otp}",
        f"/link/companies/{company_id}/connections/{uuid.uuid4()}/start?otp={otp}",
    ]
    for path in bad:
        r = browser.get(path)
        assert r.status_code == 401, (path, r.status_code)
        assert "This link has expired" in r.text
        assert "bankfeeds_link" not in r.headers.get("set-cookie", "")
    # Control characters are refused by the input policy before the OTP is even read.
    r = browser.get(parts.path + "?otp=%00%01")
    assert r.status_code == 400
    assert "bankfeeds_link" not in r.headers.get("set-cookie", "")
    # The right OTP still works afterwards (those were all under the address limit).
    assert browser.get(path_of(url)).status_code == 303


def test_guessing_otps_is_throttled(client: TestClient, browser: TestClient, database: Database,
                                    clock: FrozenClock) -> None:
    url, _ = fresh_link(client, database, clock)
    start = urlsplit(url).path
    for i in range(10):
        assert browser.get(f"{start}?otp=AAAA{i:02d}").status_code == 401
    r = browser.get(path_of(url))
    assert r.status_code == 429 and "Too many attempts" in r.text and int(r.headers["retry-after"]) > 0
    clock.advance(timedelta(minutes=16))
    assert browser.get(path_of(url)).status_code == 303


def test_pages_need_the_session_of_their_own_connection(
    client: TestClient, browser: TestClient, app: FastAPI, database: Database, clock: FrozenClock
) -> None:
    url_a, conn_a = fresh_link(client, database, clock)
    url_b, conn_b = fresh_link(client, database, clock)
    page_a = open_link(browser, url_a)
    page_b = page_a.replace(conn_a, conn_b).replace(page_a.split("/")[3], url_b.split("/")[5])
    for path in (page_b, page_b + "/setup"):
        assert browser.get(path).status_code == 401
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as stranger:
        for path in (page_a, page_a + "/setup"):
            r = stranger.get(path)
            assert r.status_code == 401 and "fresh link" in r.text
        # A forged cookie is no session either.
        stranger.cookies.set("bankfeeds_link", browser.cookies.get("bankfeeds_link")[:-3] + "abc", path="/link")
        assert stranger.get(page_a).status_code == 401
    # The session is short-lived.
    clock.advance(timedelta(minutes=31))
    assert browser.get(page_a).status_code == 401


def test_forms_need_the_csrf_token_of_the_session(
    client: TestClient, browser: TestClient, database: Database, clock: FrozenClock
) -> None:
    url, _ = fresh_link(client, database, clock)
    setup = open_link(browser, url) + "/setup"
    token = CSRF.search(browser.get(setup).text).group(1)  # type: ignore[union-attr]
    for action in ("/credentials", "/revoke"):
        for data in ({}, {"csrf_token": ""}, {"csrf_token": token + "x"}, {"csrf_token": "x" * 500}):
            r = browser.post(setup + action, data=data)
            assert r.status_code == 403, (action, data, r.status_code)
            assert "This form has expired" in r.text
            assert_secure(r)
        r = browser.post(setup + action, json={"csrf_token": token})
        assert r.status_code == 403
    with database.unit_of_work() as session:
        assert session.scalars(select(Credential)).all() == []
    r = browser.post(setup + "/credentials", content=b"csrf_token=" + b"x" * 2_100_000,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    # Wrong methods and unknown pages are pages too, never 500.
    assert browser.get(setup + "/credentials").status_code == 405
    assert browser.put(setup).status_code == 405
    r = browser.get("/link/nothing/here")
    assert r.status_code == 404 and "Page not found" in r.text
    assert_secure(r)


def test_bad_ids_are_4xx_pages(browser: TestClient) -> None:
    for path in ("/link/companies/nope/connections/also-nope/start?otp=ABCDEF",
                 "/link/companies/nope/connections/also-nope", "/link/companies/nope/connections/x/setup",
                 "/link/company/not-a-uuid"):
        r = browser.get(path)
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        assert_secure(r)
    r = browser.post("/link/companies/nope/connections/x/setup/credentials", data={"csrf_token": "x"})
    assert 400 <= r.status_code < 500


def test_languages_switch_on_every_page_and_are_remembered(
    client: TestClient, browser: TestClient, database: Database, clock: FrozenClock
) -> None:
    url, _ = fresh_link(client, database, clock)
    page1 = open_link(browser, url)
    r = browser.get(page1)
    assert "Connect to QuickBooks Online Bank Feeds" in r.text and 'href="' + page1 + '?lang=fr"' in r.text
    r = browser.get(page1 + "?lang=fr")
    assert "Connexion aux flux bancaires QuickBooks Online" in r.text and '<html lang="fr">' in r.text
    assert "bankfeeds_lang=fr" in r.headers["set-cookie"]
    # The cookie keeps French on the next page without the parameter.
    r = browser.get(page1 + "/setup")
    assert "Configurer QuickBooks" in r.text and "Obtenir des identifiants" in r.text
    token = CSRF.search(r.text).group(1)  # type: ignore[union-attr]
    r = browser.post(page1 + "/setup/credentials", data={"csrf_token": token})
    assert '<html lang="fr">' in r.text and 'href="#lang-en"' in r.text and 'id="lang-en"' in r.text
    body = r.text[r.text.index("<body>"):]
    assert body.index("Vos identifiants QuickBooks") > body.index("Your QuickBooks credentials")
    # The browser tab's title is in French too.
    assert "<title>Vos identifiants QuickBooks · Test Bank</title>" in r.text
    # Back to English; an unknown language falls back to the remembered or default one.
    assert "Set up QuickBooks" in browser.get(page1 + "/setup?lang=en").text
    assert "Set up QuickBooks" in browser.get(page1 + "/setup?lang=de").text
    # Error pages speak the visitor's language, with the switch too.
    browser.cookies.clear()
    r = browser.get("/link/company/" + str(uuid.uuid4()), headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert "Connexion aux flux bancaires" in r.text and r.headers["content-language"] == "fr"
    r = browser.get("/link/company/" + str(uuid.uuid4()), headers={"Accept-Language": "de, fr;q=0.2, en;q=0.8"})
    assert "Connect to QuickBooks" in r.text
    r = browser.get("/link/nothing", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
    assert r.status_code == 404 and "Page introuvable" in r.text and 'href="#lang-en"' in r.text


def test_company_redirect_page(client: TestClient, browser: TestClient) -> None:
    company = client.post("/companies", json={"name": "Bank of Dave"}).json()
    r = browser.get(path_of(company["redirect"]))
    assert r.status_code == 200 and "use the link Test Bank gives you" in r.text
    assert_secure(r)
    r = browser.get(path_of(company["redirect"]) + "?lang=fr")
    assert r.headers["content-language"] == "fr" and "utilisez le lien que Test Bank vous donne" in r.text


def test_branding_and_callout(database: Database, clock: FrozenClock, db_url: str, api_key: str) -> None:
    settings = make_settings(
        db_url, institution_name="Banque <Nord>", institution_logo_url="https://cdn.example.com/logo.svg",
        callout_title_en="Need help?", callout_body_en="Call us <any> time.",
        callout_title_fr="Besoin d\u2019aide ?", callout_body_fr="Appelez-nous.",
    )
    app = create_app(settings, clock=clock, database=database, run_worker=False)
    from tests.fixtures.app import basic
    with TestClient(app, headers={"Authorization": basic(api_key)}, raise_server_exceptions=False) as api, \
            TestClient(app, raise_server_exceptions=False, follow_redirects=False) as b:
        company = make_company(database, clock)
        url, _ = link_url(api, str(company.id))
        page1 = open_link(b, url)
        r = b.get(page1 + "/setup")
        assert "Banque &lt;Nord&gt;" in r.text and "<Nord>" not in r.text
        assert '<img class="logo" src="https://cdn.example.com/logo.svg"' in r.text
        assert "img-src 'self' https://cdn.example.com" in r.headers["content-security-policy"]
        assert "Need help?" in r.text and "Call us &lt;any&gt; time." in r.text
        assert r.text.index("Need help?") < r.text.index('id="get-credentials"')
        r = b.get(page1 + "/setup?lang=fr")
        assert "Besoin d\u2019aide ?" in r.text and "Appelez-nous." in r.text and "Need help?" not in r.text


def test_unsafe_logo_urls_are_not_rendered(database: Database, clock: FrozenClock, db_url: str) -> None:
    settings = make_settings(db_url, institution_logo_url="javascript:alert(1)")
    app = create_app(settings, clock=clock, database=database, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as b:
        r = b.get(f"/link/company/{uuid.uuid4()}")
        # An unsafe logo is dropped for the default one, served from this server.
        assert "javascript:" not in r.text
        assert re.findall(r"<img[^>]*>", r.text) == ['<img class="logo" src="/link/static/bank-logo.svg" alt="" height="40">']


def test_credentials_of_a_deleted_connection_page_is_401(
    client: TestClient, browser: TestClient, database: Database, clock: FrozenClock
) -> None:
    url, connection_id = fresh_link(client, database, clock)
    page1 = open_link(browser, url)
    token = CSRF.search(browser.get(page1 + "/setup").text).group(1)  # type: ignore[union-attr]
    company_id = page1.split("/")[3]
    assert client.delete(f"/companies/{company_id}/connections/{connection_id}").status_code == 200
    assert browser.get(page1).status_code == 401
    assert browser.post(page1 + "/setup/credentials", data={"csrf_token": token}).status_code == 401


def test_static_css_is_served(browser: TestClient) -> None:
    r = browser.get("/link/static/link.css")
    assert r.status_code == 200 and ".lang-alt:target" in r.text
    assert browser.get("/link/static/nope.css").status_code == 404


def test_xero_connections_have_no_credentials_pages(
    client: TestClient, browser: TestClient, database: Database, clock: FrozenClock
) -> None:
    company = make_company(database, clock)
    connection = make_connection(database, clock, company, platform_key="gbol")
    make_source_account(database, clock, connection)
    r = browser.get(f"/link/companies/{company.id}/connections/{connection.id}/start")
    assert r.status_code == 401
