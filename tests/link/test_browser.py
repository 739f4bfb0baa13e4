"""The hosted pages in real Chromium: the CSP blocks nothing of ours, the in-page language switch works."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.app import LiveServer
from tests.fixtures.factories import make_company

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def test_pages_in_chromium(live_server: LiveServer, client: TestClient, database: Database,
                           clock: FrozenClock) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    company = make_company(database, clock)
    r = client.post(f"/companies/{company.id}/connections", json={"platformKey": "hcws"})
    link = r.json()["linkUrl"].replace("http://testserver", live_server.url)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(link)
            expect(page.get_by_role("heading", name="Connect to QuickBooks Online Bank Feeds")).to_be_visible()
            # The stylesheet applied (CSP allows 'self' styles): the button is styled, not a bare link.
            assert page.eval_on_selector("a.button", "e => getComputedStyle(e).backgroundColor") == "rgb(43, 89, 195)"
            assert page.eval_on_selector("a.button", "e => getComputedStyle(e).textDecorationLine") == "none"
            page.click("a[hreflang=fr]")
            expect(page.get_by_role("heading", name="Connexion aux flux bancaires QuickBooks Online")).to_be_visible()
            page.get_by_role("link", name="Suivant", exact=True).click()
            page.get_by_role("button", name="Obtenir des identifiants", exact=True).click()
            # Shown once, both languages in the page: French first, English hidden until its anchor.
            french = page.locator("div.lang-main[lang=fr]")
            english = page.locator("div.lang-alt[lang=en]")
            expect(french.get_by_role("heading", name="Vos identifiants QuickBooks")).to_be_visible()
            expect(english).to_be_hidden()
            username = french.locator("code").first.inner_text()
            french.get_by_role("link", name="English").click()
            expect(english.get_by_role("heading", name="Your QuickBooks credentials")).to_be_visible()
            expect(french).to_be_hidden()
            assert english.locator("code").first.inner_text() == username
            assert not [m for m in problems if "Content Security Policy" in m], problems
            # Framing is refused (frame-ancestors 'none', X-Frame-Options: DENY).
            framer = browser.new_page()
            with framer.expect_console_message(
                lambda m: "frame-ancestors" in m.text or "X-Frame-Options" in m.text, timeout=10000
            ) as refused:
                framer.set_content(f'<iframe src="{live_server.url}/link/company/{company.id}"></iframe>')
            assert "Refused" in refused.value.text or "blocked" in refused.value.text
        finally:
            browser.close()
