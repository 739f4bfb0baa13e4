"""The Xero sandbox's own tests: a standalone sandbox over real HTTP, and a linked app's tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.xero_sandbox import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    XeroSandboxServer,
    consent,
    pkce_pair,
    xero_sandbox,
    xero_sandbox_db_url,
    xero_sandbox_factory,
)

__all__ = ["xero_sandbox", "xero_sandbox_db_url", "xero_sandbox_factory"]


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, follow_redirects=False) as c:
        yield c


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Linked:
    """An app linked to organisations: its tokens and tenants, and an API client for them."""

    server: XeroSandboxServer
    access_token: str
    refresh_token: str
    tenants: dict[str, str]  # organisation name -> tenant id

    def headers(self, tenant: str | None = None, **extra: str) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.access_token}", **extra}
        if tenant is not None:
            out["Xero-Tenant-Id"] = self.tenants.get(tenant, tenant)
        return out

    def get(self, path: str, tenant: str | None = None, **kw: Any) -> httpx.Response:
        return self.server.http.get(self.server.api_url + path, headers=self.headers(tenant), **kw)

    def post(self, path: str, body: Any, tenant: str | None = None, key: str | None = None) -> httpx.Response:
        headers = self.headers(tenant)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.server.http.post(self.server.api_url + path, json=body, headers=headers)


def token_request(server: XeroSandboxServer, data: dict[str, str], auth: str | None = None) -> httpx.Response:
    return server.http.post(server.token_url, data=data, headers={"Authorization": auth or server.basic_auth()})


def link(server: XeroSandboxServer, browser: httpx.Client, *, email: str = DEMO_EMAIL,
         organisations: list[str] | None = None,
         scope: str = "offline_access accounting.settings.read bankfeeds") -> Linked:
    verifier, challenge = pkce_pair()
    location = consent(browser, server.authorize_url_for(state="st-1", challenge=challenge, scope=scope),
                       email=email, password=DEMO_PASSWORD, organisations=organisations)
    q = query_of(location)
    assert q["state"] == "st-1" and "code" in q, location
    r = token_request(server, {"grant_type": "authorization_code", "code": q["code"],
                               "redirect_uri": server.redirect_uris[0], "code_verifier": verifier})
    assert r.status_code == 200, r.text
    tokens = r.json()
    conns = server.http.get(server.api_url + "/connections",
                            headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    return Linked(server, tokens["access_token"], tokens.get("refresh_token", ""),
                  {c["tenantName"]: c["tenantId"] for c in conns})


@pytest.fixture
def linked(xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> Linked:
    """The demo user linked Bluebird Cafe LLC (USD) and Acme Trading Ltd (GBP) to the app."""
    return link(xero_sandbox, browser, organisations=["Bluebird Cafe LLC", "Acme Trading Ltd"])
