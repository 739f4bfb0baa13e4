"""Security headers on /docs and /openapi.json, and HEAD answered as GET without a body (issue 9, item 11)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.factories import make_company
from tests.link.test_pages import link_url


def test_docs_and_openapi_carry_security_headers(anon_client: TestClient) -> None:
    for path in ("/docs", "/openapi.json"):
        r = anon_client.get(path)
        assert r.status_code == 200
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    docs_csp = anon_client.get("/docs").headers["content-security-policy"]
    assert "cdn.jsdelivr.net" not in docs_csp  # Swagger UI comes from the package (/docs/assets), not a CDN


def test_pages_keep_their_own_csp(client: TestClient, anon_client: TestClient, database: Database,
                                  clock: FrozenClock) -> None:
    url, _ = link_url(client, str(make_company(database, clock).id))
    r = anon_client.get("/link/company/" + url.split("/")[5])
    assert "form-action" in r.headers["content-security-policy"]  # the link pages' own policy
    assert r.headers["content-security-policy"].count("default-src") == 1


def test_head_answers_like_get_without_a_body(client: TestClient, anon_client: TestClient, database: Database,
                                              clock: FrozenClock) -> None:
    company = make_company(database, clock)
    for c, path in ((anon_client, f"/link/company/{company.id}"), (anon_client, "/healthz"),
                    (anon_client, "/docs"), (anon_client, "/openapi.json"), (client, "/companies"),
                    (client, f"/companies/{company.id}")):
        get, head = c.get(path), c.head(path)
        assert head.status_code == get.status_code == 200, (path, head.status_code)
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers["content-length"] == get.headers["content-length"]
    assert anon_client.head("/companies").status_code == 401  # HEAD is authenticated like GET
    assert anon_client.head("/nowhere").status_code == 404
