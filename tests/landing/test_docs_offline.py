"""/docs renders in Chromium with the network cut off: every request to anything but 127.0.0.1 is aborted."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.fixtures.app import LiveServer

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def test_docs_render_without_internet(live_server: LiveServer, request: pytest.FixtureRequest) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import Route, expect, sync_playwright

    blocked: list[str] = []
    served: list[str] = []

    def only_this_machine(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            served.append(url)
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", only_this_machine)
            page = context.new_page()
            page.goto(f"{live_server.url}/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("bankfeeds", timeout=15000)
            expect(page.locator(".opblock").first).to_be_visible()
            assert page.locator(".opblock").count() > 20  # the public API's operations, listed
            folder = Path(request.config.rootpath) / "test-results" / "journey"
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / "docs-offline.png"))
        finally:
            browser.close()
    assert not blocked, f"/docs tried to leave the machine: {blocked}"
    assert any(u.endswith("/docs/assets/swagger-ui-bundle.js") for u in served)
    assert any(u.endswith("/openapi.json") for u in served)
