"""Hostile input gets a clear 4xx in each surface's envelope, never a 500, on both databases."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from tests.fixtures.xero_sandbox import XeroSandboxServer, pkce_pair
from tests.xero_sandbox.conftest import Linked, token_request

ORG = "Bluebird Cafe LLC"
NUL = "a\u0000b"


def test_api_bodies(linked: Linked) -> None:
    feeds = "/bankfeeds.xro/1.0/FeedConnections"
    r = linked.post(feeds, {"items": [{"accountToken": NUL, "accountNumber": "1", "accountType": "BANK",
                                       "currency": "USD"}]}, ORG)
    # Refused whole by the JSON input policy (NUL anywhere in a body), or item by item: a 400 either way.
    assert r.status_code == 400
    assert r.json().get("type") == "invalid-request" or r.json()["items"][0]["status"] == "REJECTED"
    fid = linked.post(feeds, {"items": [{"accountToken": "h", "accountNumber": "482100007315", "accountName": "C",
                                         "accountType": "BANK", "currency": "USD"}]}, ORG).json()["items"][0]["id"]
    base = {"feedConnectionId": fid, "startDate": "2026-11-24", "endDate": "2026-11-24",
            "startBalance": {"amount": 0, "creditDebitIndicator": "CREDIT"},
            "endBalance": {"amount": 1, "creditDebitIndicator": "CREDIT"}}
    line = {"postedDate": "2026-11-24", "amount": 1, "creditDebitIndicator": "CREDIT"}
    for bad_line in ({**line, "description": NUL}, {**line, "transactionId": NUL}, {**line, "amount": "1e999999999"},
                     {**line, "amount": "NaN"}, {**line, "amount": True}, {**line, "postedDate": "20261124"},
                     {**line, "amount": 1e300}):
        r = linked.post("/bankfeeds.xro/1.0/Statements", {"items": [{**base, "statementLines": [bad_line]}]}, ORG)
        assert r.status_code == 400 and r.json()["type"] == "invalid-request", (bad_line, r.text)
    deep = linked.server.http.post(linked.server.api_url + "/bankfeeds.xro/1.0/Statements",
                                   content=b"[" * 100000, headers=linked.headers(ORG))
    assert deep.status_code == 400
    assert linked.get("/api.xro/2.0/Accounts", ORG, params={"where": NUL}).status_code == 400


def test_identity_inputs(xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> None:
    _, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": NUL, "redirect_uri": xero_sandbox.redirect_uris[0],
              "scope": "bankfeeds", "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}
    page = browser.get(xero_sandbox.authorize_url + "?" + urlencode(params))
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    bad_challenge = browser.get(xero_sandbox.authorize_url + "?" + urlencode(
        {**params, "client_id": xero_sandbox.client_id, "code_challenge": "é" * 43}))
    assert bad_challenge.status_code == 302 and "invalid_request" in bad_challenge.headers["location"]
    r = token_request(xero_sandbox, {"grant_type": "authorization_code", "code": "x", "code_verifier": "é" * 50,
                                     "redirect_uri": NUL})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    body_auth = xero_sandbox.http.post(xero_sandbox.token_url, data={"grant_type": "refresh_token",
                                                                     "client_id": NUL, "client_secret": "x"})
    assert body_auth.status_code == 401
    home = browser.get(xero_sandbox.base)
    token = home.text.split('name="csrf_token" value="')[1].split('"')[0]
    login = browser.post(xero_sandbox.base + "/identity/login", data={
        "csrf_token": token, "email": NUL, "password": "x", "return_to": "/sandbox/xero\u0000x"})
    assert login.status_code == 400
    assert xero_sandbox.http.get(xero_sandbox.base + "/testing/calls", params={"tenantId": NUL}).status_code == 400
    assert xero_sandbox.http.post(xero_sandbox.base + "/testing/organisations", json={"name": NUL}).status_code == 400
    assert browser.get(xero_sandbox.base + "/feeds/not-a-uuid/remove").status_code in (400, 404)
    signed_out = browser.get(xero_sandbox.base, params={"org": NUL})
    assert signed_out.status_code == 200 and "Log in to Xero" in signed_out.text


def test_pages_of_a_signed_in_user(linked: Linked, browser: httpx.Client) -> None:
    base = linked.server.base
    assert browser.get(base, params={"org": "x" * 36}).status_code == 404
    assert browser.get(base, params={"org": NUL}).status_code == 404
    assert browser.get(base, params={"org": "x" * 37}).status_code == 400
