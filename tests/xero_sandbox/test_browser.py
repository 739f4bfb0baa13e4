"""The sandbox's pages in Debian's Chromium at 390 px: sign-in, consent with the organisation
picker, the redirect back to the app, then the bank accounts page; nothing wider than the phone.
Screenshots go to test-results/xero-sandbox/.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fixtures.xero_sandbox import DEMO_EMAIL, DEMO_PASSWORD, XeroSandboxServer, pkce_pair

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def test_sign_in_consent_and_bank_accounts_on_a_phone(xero_sandbox: XeroSandboxServer,
                                                     request: pytest.FixtureRequest) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    shots = Path(request.config.rootpath) / "test-results" / "xero-sandbox"
    shots.mkdir(parents=True, exist_ok=True)
    # The app's redirect URI is a page of the same server, so the browser lands somewhere real.
    callback = xero_sandbox.url + "/healthz"
    xero_sandbox.add_redirect_uri(callback)
    _, challenge = pkce_pair()
    url = xero_sandbox.authorize_url_for(state="phone", challenge=challenge, redirect_uri=callback)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()

            def fits(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"{name} is {width}px wide"

            page.goto(url)
            expect(page.locator("h1")).to_have_text("Log in to Xero")
            expect(page.locator("#demo-users")).to_contain_text(DEMO_PASSWORD)
            fits("sign-in")
            page.fill("#email", DEMO_EMAIL)
            page.fill("#password", DEMO_PASSWORD)
            page.click("#log-in")
            expect(page.locator("#scopes")).to_contain_text("Send bank statements into your bank accounts")
            expect(page.locator("#organisation-picker input[type=checkbox]")).to_have_count(3)
            fits("consent")
            page.check("#organisation-picker label:has-text('Acme Trading Ltd') input")
            page.click("#allow")
            page.wait_for_url(callback + "*")
            query = parse_qs(urlsplit(page.url).query)
            assert query["state"] == ["phone"] and query["code"][0]
            page.goto(xero_sandbox.base)
            expect(page.locator("h1")).to_have_text("Bank accounts")
            expect(page.locator(".account").first).to_contain_text("No bank feed")
            fits("bank-accounts")
        finally:
            browser.close()
