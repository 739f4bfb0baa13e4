"""``/``: a landing page in demo mode (every part of the demo and the journey's steps); a 404 otherwise."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bankfeeds.app import create_app
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.app import make_settings


def test_demo_mode_lands_on_the_journey(database: Database, clock: FrozenClock, db_url: str) -> None:
    app = create_app(make_settings(db_url, demo=True), clock=clock, database=database, run_worker=False)
    with TestClient(app) as browser:
        r = browser.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        for href in ('href="/demo/bank"', 'href="/sandbox/qbo"', 'href="/sandbox/xero"', 'href="/docs"'):
            assert href in r.text
        assert "make reset-demo" in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert browser.get("/landing.css").status_code == 200


def test_outside_demo_mode_root_is_the_api_404(database: Database, clock: FrozenClock, db_url: str) -> None:
    app = create_app(make_settings(db_url), clock=clock, database=database, run_worker=False)
    with TestClient(app) as browser:
        r = browser.get("/")
        assert r.status_code == 404 and r.json()["statusCode"] == 404
        # The docs never need the internet, in any mode: Swagger UI comes from the package.
        docs = browser.get("/docs")
        assert docs.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in docs.text
        assert "cdn" not in docs.text.lower()
        js = browser.get("/docs/assets/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 500_000
