"""The identity server: PKCE, codes, token expiry, refresh rotation, revocation, consent."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import httpx

from tests.fixtures.xero_sandbox import DEMO_EMAIL, DEMO_PASSWORD, SOLO_EMAIL, XeroSandboxServer, consent, pkce_pair
from tests.xero_sandbox.conftest import Linked, link, query_of, token_request


def _code(server: XeroSandboxServer, browser: httpx.Client, challenge: str, **kw: object) -> str:
    location = consent(browser, server.authorize_url_for(state="s", challenge=challenge), email=DEMO_EMAIL,
                       password=DEMO_PASSWORD, organisations=["Acme Trading Ltd"])
    return query_of(location)["code"]


def _exchange(server: XeroSandboxServer, code: str, verifier: str) -> httpx.Response:
    return token_request(server, {"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": server.redirect_uris[0], "code_verifier": verifier})


def test_code_flow_gives_tokens_and_the_chosen_connection(xero_sandbox: XeroSandboxServer,
                                                          browser: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    location = consent(browser, xero_sandbox.authorize_url_for(state="abc", challenge=challenge),
                       email=DEMO_EMAIL, password=DEMO_PASSWORD, organisations=["Kiwi Coffee Co"])
    assert location.startswith(xero_sandbox.redirect_uris[0] + "?")
    q = query_of(location)
    assert q["state"] == "abc"
    r = _exchange(xero_sandbox, q["code"], verifier)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1800
    assert set(body["scope"].split()) == {"offline_access", "accounting.settings.read", "bankfeeds"}
    assert body["access_token"] and body["refresh_token"]
    conns = xero_sandbox.http.get(xero_sandbox.api_url + "/connections",
                                  headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert [c["tenantName"] for c in conns] == ["Kiwi Coffee Co"]
    assert set(conns[0]) == {"id", "authEventId", "tenantId", "tenantType", "tenantName", "createdDateUtc",
                             "updatedDateUtc"}
    assert conns[0]["tenantType"] == "ORGANISATION"
    # Tokens are kept hashed: the raw values appear nowhere in the database.
    from sqlalchemy import text
    with xero_sandbox.database.engine.connect() as conn:
        stored = [row[0] for row in conn.execute(text("SELECT token_hash FROM xero_sandbox_tokens"))]
    assert body["access_token"] not in stored and len(stored) == 2


def test_org_picker_connects_several_organisations(xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> None:
    linked = link(xero_sandbox, browser, organisations=["Bluebird Cafe LLC", "Kiwi Coffee Co"])
    assert sorted(linked.tenants) == ["Bluebird Cafe LLC", "Kiwi Coffee Co"]


def test_a_user_with_one_organisation_sees_no_picker(xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> None:
    _, challenge = pkce_pair()
    url = xero_sandbox.authorize_url_for(state="s", challenge=challenge)
    page = browser.get(url)
    assert "Log in to Xero" in page.text and DEMO_PASSWORD in page.text  # demo mode prints it
    linked = link(xero_sandbox, browser, email=SOLO_EMAIL)
    assert list(linked.tenants) == ["Kiwi Coffee Co"]


def test_consent_page_lists_scopes_in_plain_words(xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> None:
    _, challenge = pkce_pair()
    url = xero_sandbox.authorize_url_for(state="s", challenge=challenge)
    page = browser.get(url)
    login = browser.post(xero_sandbox.base + "/identity/login", data={
        "csrf_token": page.text.split('name="csrf_token" value="')[1].split('"')[0],
        "return_to": url.removeprefix(xero_sandbox.url), "email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert login.status_code == 303
    consent_page = browser.get(xero_sandbox.url + login.headers["location"])
    assert "Send bank statements into your bank accounts" in consent_page.text
    assert "See your organisation&#39;s details and chart of accounts" in consent_page.text
    assert 'id="organisation-picker"' in consent_page.text


def test_wrong_password_is_refused_on_the_page(xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> None:
    _, challenge = pkce_pair()
    url = xero_sandbox.authorize_url_for(state="s", challenge=challenge)
    page = browser.get(url)
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = browser.post(xero_sandbox.base + "/identity/login", data={
        "csrf_token": token, "return_to": url, "email": DEMO_EMAIL, "password": "nope"})
    assert r.status_code == 400 and "do not match" in r.text
    no_csrf = browser.post(xero_sandbox.base + "/identity/login", data={"email": DEMO_EMAIL,
                                                                         "password": DEMO_PASSWORD})
    assert no_csrf.status_code == 403


def test_consent_refused_redirects_with_access_denied(xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> None:
    _, challenge = pkce_pair()
    location = consent(browser, xero_sandbox.authorize_url_for(state="xyz", challenge=challenge),
                       email=DEMO_EMAIL, password=DEMO_PASSWORD, allow=False)
    q = query_of(location)
    assert location.startswith(xero_sandbox.redirect_uris[0]) and q == {"error": "access_denied", "state": "xyz"}


def test_unknown_client_or_redirect_is_an_error_page_never_a_redirect(xero_sandbox: XeroSandboxServer,
                                                                        browser: httpx.Client) -> None:
    _, challenge = pkce_pair()
    good = {"response_type": "code", "client_id": xero_sandbox.client_id, "redirect_uri": xero_sandbox.redirect_uris[0],
            "scope": "bankfeeds", "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}
    for change in ({"client_id": "nobody"}, {"redirect_uri": "https://evil.example/cb"}, {"client_id": ""}):
        r = browser.get(xero_sandbox.authorize_url + "?" + urlencode({**good, **change}))
        assert r.status_code == 400 and "location" not in r.headers
        assert "text/html" in r.headers["content-type"] and "Nothing was shared" in r.text


def test_pkce_is_required(xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> None:
    _, challenge = pkce_pair()
    base = {"response_type": "code", "client_id": xero_sandbox.client_id, "redirect_uri": xero_sandbox.redirect_uris[0],
            "scope": "bankfeeds", "state": "s"}
    for extra in ({}, {"code_challenge": challenge, "code_challenge_method": "plain"},
                  {"code_challenge": challenge}):
        r = browser.get(xero_sandbox.authorize_url + "?" + urlencode({**base, **extra}))
        assert r.status_code == 302
        assert query_of(r.headers["location"])["error"] == "invalid_request"
    bad_scope = browser.get(xero_sandbox.authorize_url + "?" + urlencode(
        {**base, "code_challenge": challenge, "code_challenge_method": "S256", "scope": "everything"}))
    assert query_of(bad_scope.headers["location"])["error"] == "invalid_scope"


def test_bad_verifier_code_replay_and_expired_code(xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    code = _code(xero_sandbox, browser, challenge)
    wrong = _exchange(xero_sandbox, code, "x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    first = _exchange(xero_sandbox, code, verifier)
    assert first.status_code == 200
    replay = _exchange(xero_sandbox, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # A replayed code revokes what it was exchanged for (RFC 6749 §4.1.2).
    revoked = xero_sandbox.http.get(xero_sandbox.api_url + "/connections",
                                    headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert revoked.status_code == 401
    refresh = token_request(xero_sandbox, {"grant_type": "refresh_token",
                                           "refresh_token": first.json()["refresh_token"]})
    assert refresh.json()["error"] == "invalid_grant"
    verifier2, challenge2 = pkce_pair()
    code2 = _code(xero_sandbox, browser, challenge2)
    xero_sandbox.clock.advance(timedelta(minutes=5, seconds=1))
    expired = _exchange(xero_sandbox, code2, verifier2)
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"
    verifier3, challenge3 = pkce_pair()
    code3 = _code(xero_sandbox, browser, challenge3)
    other_redirect = token_request(xero_sandbox, {"grant_type": "authorization_code", "code": code3,
                                                  "redirect_uri": "http://testserver/other", "code_verifier": verifier3})
    assert other_redirect.json()["error"] == "invalid_grant"


def test_client_authentication(xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> None:
    import base64

    bad = "Basic " + base64.b64encode(f"{xero_sandbox.client_id}:wrong".encode()).decode()
    r = token_request(xero_sandbox, {"grant_type": "refresh_token", "refresh_token": "x"}, auth=bad)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    garbage = token_request(xero_sandbox, {"grant_type": "refresh_token", "refresh_token": "x"}, auth="Basic %%%")
    assert garbage.status_code == 401
    unsupported = token_request(xero_sandbox, {"grant_type": "password"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"


def test_access_token_expires_after_30_minutes(linked: Linked) -> None:
    assert linked.get("/connections").status_code == 200
    linked.server.clock.advance(timedelta(minutes=29, seconds=59))
    assert linked.get("/connections").status_code == 200
    linked.server.clock.advance(timedelta(seconds=1))
    r = linked.get("/connections")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert "expired" in r.json()["detail"]


def test_refresh_rotates_and_a_spent_token_is_invalid_grant(linked: Linked) -> None:
    server = linked.server
    first = token_request(server, {"grant_type": "refresh_token", "refresh_token": linked.refresh_token})
    assert first.status_code == 200
    new = first.json()
    assert new["refresh_token"] != linked.refresh_token and new["expires_in"] == 1800
    spent = token_request(server, {"grant_type": "refresh_token", "refresh_token": linked.refresh_token})
    assert spent.status_code == 400 and spent.json() == {"error": "invalid_grant", "error_description":
                                                         "the refresh token is unknown, spent, expired or revoked"}
    unknown = token_request(server, {"grant_type": "refresh_token", "refresh_token": "nope"})
    assert unknown.json()["error"] == "invalid_grant"
    ok = server.http.get(server.api_url + "/connections", headers={"Authorization": f"Bearer {new['access_token']}"})
    assert ok.status_code == 200 and len(ok.json()) == 2
    again = token_request(server, {"grant_type": "refresh_token", "refresh_token": new["refresh_token"]})
    assert again.status_code == 200


def test_revocation_ends_refresh_and_access_tokens(linked: Linked) -> None:
    server = linked.server
    r = server.http.post(server.revocation_url, data={"token": linked.refresh_token},
                         headers={"Authorization": server.basic_auth()})
    assert r.status_code == 200
    assert linked.get("/connections").status_code == 401
    refused = token_request(server, {"grant_type": "refresh_token", "refresh_token": linked.refresh_token})
    assert refused.json()["error"] == "invalid_grant"
    unknown = server.http.post(server.revocation_url, data={"token": "never-issued"},
                               headers={"Authorization": server.basic_auth()})
    assert unknown.status_code == 200
    no_auth = server.http.post(server.revocation_url, data={"token": "x"})
    assert no_auth.status_code == 401


def test_without_offline_access_there_is_no_refresh_token(xero_sandbox: XeroSandboxServer,
                                                          browser: httpx.Client) -> None:
    linked = link(xero_sandbox, browser, organisations=["Kiwi Coffee Co"], scope="bankfeeds")
    assert linked.refresh_token == ""


def test_more_organisations_for_benches(xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> None:
    names = [f"Bench Org {i:02d}" for i in range(4)]
    ids = [xero_sandbox.add_organisation(n, bank_accounts=[{"name": "Checking", "number": f"10{i}",
                                                            "type": "BANK", "currency": "USD"}])
           for i, n in enumerate(names)]
    assert xero_sandbox.add_organisation(names[0]) == ids[0]  # idempotent
    linked = link(xero_sandbox, browser, organisations=names)
    assert sorted(linked.tenants) == names and linked.tenants[names[1]] == ids[1]
    accounts = linked.get("/api.xro/2.0/Accounts", names[2],
                          params={"where": 'Type=="BANK"'}).json()["Accounts"]
    assert [(a["Name"], a["BankAccountNumber"]) for a in accounts] == [("Checking", "102")]
    bad = xero_sandbox.http.post(xero_sandbox.base + "/testing/organisations", json={"name": "X", "users": ["no@x"]})
    assert bad.status_code == 400
