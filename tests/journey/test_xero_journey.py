"""The Xero journey in real Chromium: demo bank → linkUrl → Connect to Xero → the Xero sandbox's
sign-in and consent → the mapping page (one existing Xero account, one new) → Linked, which the
bank learns by webhook → the bank publishes, the worker delivers statements → the lines wait to be
reconciled in the Xero sandbox → the customer removes a feed in Xero → the bank learns it. The hosted pages are checked in English and French, at 1280 and 390 px
wide; screenshots of each step go to test-results/journey-xero/.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.sandbox.live_hub import Hub, hub_fixture

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
WIDE, NARROW = {"width": 1280, "height": 860}, {"width": 390, "height": 844}


# Demo mode: the Xero sandbox is mounted in the hub and Xero's URLs point at it.
hub = hub_fixture(demo_bank_key=True, institution_name="Demo Bank")


def hub_count(hub: Hub, sql: str) -> int:
    with hub.database.unit_of_work() as session:
        return int(session.execute(text(sql)).scalar_one())


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = Path(request.config.rootpath) / "test-results" / "journey-xero"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


def test_the_xero_journey_in_chromium(hub: Hub, shots: Path) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import Page, expect, sync_playwright

    step = 0

    def shot(page: Page, name: str, *, narrow: bool = False) -> None:
        nonlocal step
        step += 1
        page.screenshot(path=str(shots / f"{step:02d}-{name}.png"), full_page=True)
        if narrow:
            page.set_viewport_size(NARROW)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= NARROW["width"], f"{name} is {width}px wide at 390px"
            page.screenshot(path=str(shots / f"{step:02d}-{name}-390.png"), full_page=True)
            page.set_viewport_size(WIDE)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport=WIDE)
        try:
            page = context.new_page()

            # 1. The customer is in online banking and chooses Xero.
            page.goto(f"{hub.url}/demo/bank")
            expect(page.locator("#feed-status")).to_have_text("Not connected")
            expect(page.locator("#connect-xero")).to_have_text("Connect to Xero")
            shot(page, "online-banking")

            # 2. The bank's backend makes a gbol connection and sends the customer to its linkUrl.
            page.click("#connect-xero")
            expect(page.locator("h1")).to_have_text("Connect to Xero")
            assert page.url.endswith("/xero")
            expect(page.locator("ul.shared li")).to_have_count(3)
            shot(page, "link-xero-en", narrow=True)
            page.click("a[hreflang=fr]")
            expect(page.locator("h1")).to_have_text("Se connecter à Xero")
            shot(page, "link-xero-fr", narrow=True)

            # 3. Connect to Xero: Xero's (the sandbox's) sign-in, then consent.
            page.get_by_role("link", name="Se connecter à Xero", exact=True).click()
            expect(page.locator("h1")).to_have_text("Log in to Xero")
            assert "/sandbox/xero/" in page.url
            shot(page, "xero-sign-in")
            page.fill("#email", "demo@example.com")
            page.fill("#password", "xero-demo-2026")
            page.click("#log-in")
            expect(page.locator("#scopes")).to_contain_text("bank feeds")
            page.locator("label.check", has_text="Bluebird Cafe LLC").locator("input").check()
            shot(page, "xero-consent")
            page.click("#allow")

            # 4. Back on the hub's page (French, as chosen): map one account to an existing Xero
            # account and let Xero create a new one for the other.
            expect(page.locator("h1")).to_have_text("Choisir les comptes pour Xero")
            expect(page.locator("p.notice")).to_contain_text("Bluebird Cafe LLC")
            forms = page.locator("form.account")
            expect(forms).to_have_count(2)
            shot(page, "link-accounts-fr", narrow=True)
            page.click("a[hreflang=en]")
            expect(page.locator("h1")).to_have_text("Choose accounts for Xero")
            checking = page.locator("form.account", has=page.locator("input[name=account_id][value^=chk]"))
            card = page.locator("form.account", has=page.locator("input[name=account_id][value^=cc]"))
            options = checking.locator("select option").all_inner_texts()
            assert options[0].startswith("Business Checking") and not any("Visa" in o for o in options)
            checking.locator("select").select_option(label=options[0])
            shot(page, "link-accounts-en", narrow=True)
            checking.get_by_role("button", name="Connect").click()
            expect(page.locator("p.notice")).to_contain_text("The account is connected")
            card = page.locator("form.account")
            expect(card).to_have_count(1)
            card.locator("select").select_option(value="new")
            card.get_by_role("button", name="Connect").click()
            expect(page.locator("section.manage li")).to_have_count(2)
            expect(page.locator("form.account")).to_have_count(0)
            shot(page, "link-manage-en", narrow=True)
            page.click("a[hreflang=fr]")
            expect(page.locator("section.manage h2")).to_have_text("Gérer les comptes connectés")
            shot(page, "link-manage-fr", narrow=True)

            # 5. Linked: the bank learns it by webhook.
            hub.drain()
            page.goto(f"{hub.url}/demo/bank")
            expect(page.locator("#feed-status")).to_have_text("Connected")
            expect(page.locator("aside.feed h2")).to_contain_text("Xero")
            expect(page.locator("#feed-message")).to_contain_text("Xero has access")
            expect(page.locator("#qb-side-note")).to_have_count(0)
            expect(page.locator("#webhooks")).to_contain_text("connection.connected")
            expect(page.locator("#webhooks")).to_contain_text("bankFeeds.sourceAccount.connected")
            shot(page, "bank-linked", narrow=True)

            # 6. The bank publishes; the worker delivers each push as a Xero statement.
            page.click("#publish")
            expect(page.locator("#notice")).to_contain_text("sent")
            hub.drain()  # POST /Statements
            hub.clock.advance(timedelta(seconds=10))
            hub.drain()  # GET /Statements/{id}: DELIVERED; the pushes turn Success
            page.goto(f"{hub.url}/demo/bank")
            expect(page.locator("#webhooks")).to_contain_text("bankTransactions.write.successful")
            shot(page, "bank-published")

            # 7. In Xero (the sandbox), the statement lines wait to be reconciled.
            xero = context.new_page()
            xero.goto(f"{hub.url}/sandbox/xero")
            expect(xero.locator("h1")).to_have_text("Bank accounts")
            xero.select_option("#org", label="Bluebird Cafe LLC")
            xero.get_by_role("button", name="Switch").click()
            expect(xero.locator(".page-head p")).to_contain_text("Bluebird Cafe LLC")
            checking_at_xero = xero.locator("section.account", has=xero.locator("h2", has_text="Business Checking"))
            lines = checking_at_xero.locator("table.lines tbody tr")
            expect(lines.first).to_be_visible()
            published = hub_count(hub, "SELECT count(*) FROM bank_transactions")
            assert published > 0
            assert xero.locator("table.lines tbody tr").count() == published
            expect(checking_at_xero.locator("[data-feed-status=active]")).to_be_visible()
            shot(xero, "xero-statement-lines", narrow=True)

            # 8. The customer removes the Business Checking feed inside Xero...
            checking_at_xero.get_by_role("link", name="Remove bank feed").click()
            xero.click("#confirm-remove")
            expect(xero.locator("#notice")).to_be_visible()
            shot(xero, "xero-feed-removed")

            # 9. ...and the bank learns it at the hub's daily check of the organisation's feeds.
            hub.clock.advance(timedelta(days=1, minutes=1))
            hub.drain()  # the check marks the account disconnected; the webhook goes to the bank
            page.goto(f"{hub.url}/demo/bank")
            expect(page.locator("#webhooks")).to_contain_text("bankFeeds.sourceAccount.disconnected")
            expect(page.locator("article.account .feed-status").filter(has_text="disconnected")).to_have_count(1)
            shot(page, "bank-learns-feed-removed", narrow=True)
        except BaseException:
            for i, p in enumerate(context.pages):
                p.screenshot(path=str(shots / f"failure-tab{i}.png"), full_page=True)
                print(f"--- tab {i} at failure: {p.url}\n{p.locator('body').inner_text()[:1500]}")
            raise
        finally:
            browser.close()

    # Xero (the sandbox) made two feeds, one on its Business Checking and one on a new account; the
    # Business Checking one was removed in Xero, and the hub holds that account disconnected.
    with hub.database.unit_of_work() as session:
        feeds = dict(session.execute(text(
            "SELECT a.name, f.status FROM xero_sandbox_feed_connections f JOIN xero_sandbox_accounts a "
            "ON a.id = f.account_id")).all())
        statuses = dict(session.execute(text("SELECT account_name, status FROM source_accounts")).all())
    assert len(feeds) == 2 and feeds["Business Checking"] == "DELETED"
    assert sorted(statuses.values()) == ["connected", "disconnected"]
