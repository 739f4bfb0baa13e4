"""The whole QuickBooks journey in real Chromium, steps 1 to 10 in order, then the feed's life.

1-2 the customer is in the demo bank's online banking and clicks Connect to QuickBooks; 3 the bank's
backend calls the hub and sends the customer to the linkUrl: the hosted pages (checked in English and
in French) give one-time credentials; 4-8 in the QuickBooks sandbox: Link account, search the bank,
enter the credentials (a wrong password first: retry), map the accounts, Connect; 9-10 the connection
is Linked and the bank learns it by webhook. Then: the bank publishes transactions, Update shows them
once, the clock moves a day and the daily pull brings the next ones; the bank disconnects and the
sandbox's next pull fails with a clear message. Screenshots of each step go to test-results/journey/.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bankfeeds.models import DemoAccount, DemoTransaction, SandboxBankTransaction
from tests.sandbox.live_hub import Hub, hub_fixture

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


hub = hub_fixture(demo_bank_key=True, institution_name="Demo Bank")


WIDTHS = {"desktop": (1280, 860), "phone": (390, 844)}


@pytest.fixture(params=list(WIDTHS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def shots(request: pytest.FixtureRequest, viewport: str) -> Path:
    folder = Path(request.config.rootpath) / "test-results" / "journey"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{viewport}-*.png"):
        old.unlink()
    return folder


def _published(hub: Hub, source_id: str) -> set[str]:
    with hub.database.unit_of_work() as session:
        rows = session.scalars(
            select(DemoTransaction.id).join(DemoAccount, DemoAccount.id == DemoTransaction.account_id)
            .where(DemoAccount.source_account_id == source_id, DemoTransaction.published_at.is_not(None)))
        return {str(r) for r in rows}


def _downloaded(hub: Hub) -> int:
    with hub.database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(SandboxBankTransaction)) or 0)


LOOK_ALIKES = set("Il1O0o")


def test_the_quickbooks_journey_in_chromium(hub: Hub, shots: Path, viewport: str) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import Page, expect, sync_playwright

    width, height = WIDTHS[viewport]
    step = 0

    def shot(page: Page, name: str) -> None:
        """A screenshot kept in test-results/journey/, and the page is no wider than the screen."""
        nonlocal step
        step += 1
        page.screenshot(path=str(shots / f"{viewport}-{step:02d}-{name}.png"), full_page=True)
        scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{name} at {viewport}: the page is {scroll} px wide in a {inner} px viewport"

    def visible_text(page: Page) -> str:
        return page.locator("body").inner_text()

    today = hub.clock.now().date()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub.url)
            page = context.new_page()

            # 0. The landing page says where to start and links every part of the demo.
            page.goto(f"{hub.url}/")
            expect(page.locator("h1")).to_contain_text("QuickBooks")
            for part, href in (("#open-bank", "/demo/bank"), ("#open-qbo", "/sandbox/qbo"),
                               ("#open-xero", "/sandbox/xero"), ("#open-docs", "/docs")):
                expect(page.locator(part)).to_have_attribute("href", href)
            expect(page.locator("#journey li")).to_have_count(7)
            shot(page, "landing")

            # 1. Signed in to online banking.
            page.click("#open-bank")
            expect(page.locator("#customer-name")).to_have_text("Maple Street Bakery LLC")
            expect(page.locator("#feed-status")).to_have_text("Not connected")
            expect(page.locator("#developer-panel")).not_to_have_attribute("open", "")
            shot(page, "online-banking")

            # A first try, cancelled: the bank then offers to connect afresh, not to "finish".
            page.click("#connect")
            expect(page.locator("h1")).to_have_text("Connect to QuickBooks Online Bank Feeds")
            page.click("#cancel")
            expect(page.locator("div.lang-main h1")).to_have_text("Connecting QuickBooks Online was cancelled")
            expect(page.locator("div.lang-main")).to_contain_text("this one can no longer be used")
            shot(page, "link-cancelled")
            hub.drain()
            page.goto(f"{hub.url}/demo/bank")
            expect(page.locator("#feed-status")).to_have_text("Not connected")
            expect(page.locator("#feed-message")).to_contain_text("You cancelled connecting to QuickBooks")
            expect(page.locator("#connect")).to_have_text("Connect to QuickBooks")
            text = visible_text(page)
            assert "PendingAuth" not in text and "User cancelled" not in text and "connection." not in text
            shot(page, "bank-after-cancel")

            # 2-3. Connect to QuickBooks: the bank's backend calls the hub, the customer lands on the linkUrl.
            page.click("#connect")
            expect(page.locator("h1")).to_have_text("Connect to QuickBooks Online Bank Feeds")
            assert re.search(r"/link/companies/[^/]+/connections/[^/?]+$", page.url)
            expect(page.locator(".progress li.current")).to_contain_text("What is shared")
            expect(page.locator("img.logo")).to_have_attribute("src", "/link/static/bank-logo.svg")
            assert page.title() == "Connect to QuickBooks Online Bank Feeds"
            shot(page, "link-connect-en")
            page.click("a[hreflang=fr]")
            expect(page.locator("h1")).to_have_text("Connexion aux flux bancaires QuickBooks Online")
            assert page.title() == "Connexion aux flux bancaires QuickBooks Online"
            expect(page.locator(".languages .current")).to_have_text("Français")
            shot(page, "link-connect-fr")
            page.get_by_role("link", name="Suivant", exact=True).click()
            expect(page.locator("h1")).to_have_text("Configurer QuickBooks")
            assert page.title() == "Configurer QuickBooks"
            expect(page.locator(".progress li.current")).to_contain_text("Obtenir des identifiants")
            expect(page.locator("button[type=submit]").first).to_have_text("Obtenir des identifiants")
            shot(page, "link-setup-fr")
            page.click("a[hreflang=en]")
            expect(page.locator("h1")).to_have_text("Set up QuickBooks")
            page.get_by_role("button", name="Get credentials", exact=True).click()
            main = page.locator("div.lang-main[lang=en]")
            expect(main.locator("h1")).to_have_text("Your QuickBooks credentials")
            expect(main.locator("h1")).to_be_visible()
            assert page.title() == "Your QuickBooks credentials · Demo Bank"
            expect(main.locator(".progress li.current")).to_contain_text("Enter them in QuickBooks")
            codes = main.locator("dl.credentials code")
            username, password = codes.nth(0).inner_text().strip(), codes.nth(1).inner_text().strip()
            assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", username) and len(password) == 16
            assert not (set(username + password) & LOOK_ALIKES), (username, password)
            # Copy puts the password on the clipboard, as is.
            copy_password = main.locator("button.copy").nth(1)
            copy_password.click()
            expect(copy_password).to_have_text("Copied")
            assert page.evaluate("() => navigator.clipboard.readText()") == password
            expect(main.locator("a.qbo-sign-in")).to_have_attribute("href", "/sandbox/qbo")
            shot(page, "link-credentials")
            # Back on the setup page, Revoke is set apart, in red, from Cancel.
            main.get_by_role("link", name="Back", exact=True).click()
            expect(page.locator("#revoke")).to_be_visible()
            revoke_color = page.eval_on_selector("#revoke", "e => getComputedStyle(e).color")
            cancel_color = page.eval_on_selector("#cancel", "e => getComputedStyle(e).color")
            assert revoke_color == "rgb(180, 35, 24)" and cancel_color != revoke_color
            shot(page, "link-setup-revoke")

            # 4. Sign in to QuickBooks Online (the sandbox) and choose Link account.
            qbo = context.new_page()
            qbo.goto(f"{hub.url}/sandbox/qbo")
            qbo.get_by_role("link", name="Sign in to Craig's Design and Landscaping Services").click()
            expect(qbo.locator("#no-feeds")).to_be_visible()
            shot(qbo, "qbo-banking-empty")
            qbo.click("#update")  # nothing linked: says so, in amber, never "up to date"
            expect(qbo.locator("#notice")).to_have_text("There is nothing to update yet: link a bank account first.")
            expect(qbo.locator("#notice")).to_have_class("warning")
            qbo.click("#link-account")

            # 5. Search QuickBooks' list of institutions for the bank's name.
            qbo.fill("#q", "demo bank")
            qbo.click("#search")
            expect(qbo.locator(".institution")).to_have_text(["Demo Bank"])
            shot(qbo, "qbo-search")
            qbo.click(".institution")

            # 6. Type the credentials (a typo first: QuickBooks asks to retry).
            qbo.check("#accept-terms")
            qbo.fill("#username", username)
            qbo.fill("#password", password[:-1] + ("x" if password[-1] != "x" else "y"))
            qbo.click("#sign-in")
            expect(qbo.locator("#sign-in-error")).to_contain_text("did not recognise that user ID and password")
            shot(qbo, "qbo-wrong-password")
            qbo.check("#accept-terms")
            qbo.fill("#username", username)
            qbo.fill("#password", password)
            qbo.click("#sign-in")

            # 7. Pick the accounts and map each to a Bank or Credit Card account without a feed.
            expect(qbo.locator("#source-accounts tbody tr")).to_have_count(2)
            checking_row = qbo.locator("tr[data-source=chk-7315]")
            card_row = qbo.locator("tr[data-source=cc-9042]")
            checking_row.locator("select").select_option(label="Checking (Bank)")
            card_row.locator("select").select_option(label="+ Add new account")
            card_row.locator("input.new-name").fill("Business Visa")
            options = checking_row.locator("select option").all_inner_texts()
            assert not any("Income" in o or "Expenses" in o for o in options)
            # The date reads as the hint does: YYYY-MM-DD, both.
            start = qbo.locator("#feed_start_date")
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", start.input_value())
            expect(qbo.locator("#start-hint")).to_contain_text((today - timedelta(days=90)).isoformat())
            # Every row's checkbox, name and account sit on one line.
            tops = [round(checking_row.locator(sel).bounding_box()["y"]) for sel in ("input.select-account", "td.source-name label", "select")]  # type: ignore[index]
            assert max(tops) - min(tops) <= 12 or viewport == "phone", tops
            start.fill((today - timedelta(days=30)).isoformat())
            shot(qbo, "qbo-map-accounts")

            # 8. Connect: the link is complete; nothing was at the bank yet, and the notice says so.
            qbo.click("#connect")
            expect(qbo.locator("#notice")).to_contain_text("Your account is connected. There were no transactions")
            expect(qbo.locator(".tile")).to_have_count(2)
            expect(qbo.locator(".tile", has_text="Business Visa")).to_have_count(1)
            shot(qbo, "qbo-linked")

            # 9-10. The connection is Linked and the bank learns it by (svix-verified) webhook.
            hub.drain()
            page.goto(f"{hub.url}/demo/bank")
            expect(page.locator("#feed-status")).to_have_text("Connected")
            expect(page.locator("#webhooks")).to_contain_text("connection.connected")
            expect(page.locator("#qb-side-note")).to_contain_text("10 days without a download")
            assert "connection.connected" not in visible_text(page)  # the developer panel is closed
            shot(page, "bank-linked")
            page.locator("#developer-panel summary").click()
            expect(page.locator("#webhooks")).to_be_visible()
            shot(page, "bank-developer-panel")

            # The bank publishes transactions; Update in QuickBooks shows them, once.
            page.click("#publish")
            expect(page.locator("#notice")).to_contain_text("sent to QuickBooks")
            # What was not sent says why: older than QuickBooks' week of history.
            checking = page.locator("article[data-account=chk-7315]")
            expect(checking.locator(".too-old")).to_contain_text("QuickBooks takes at most a week of history")
            expect(checking.locator("td.col-qb", has_text="Too old").first).to_be_attached()
            shot(page, "bank-published")
            first = _published(hub, "chk-7315")
            assert first
            qbo.goto(f"{hub.url}/sandbox/qbo")
            qbo.get_by_role("link", name="Sign in to Craig's Design and Landscaping Services").click()
            qbo.click("#update")
            expect(qbo.locator("#notice")).to_contain_text("new transactions downloaded into For review")
            checking_tile = qbo.locator(".tile", has_text="Checking")
            checking_tile.click()
            rows = qbo.locator("#for-review tbody tr")
            expect(rows).to_have_count(len(first))
            assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.transactionId)")) == first
            shot(qbo, "qbo-update")
            downloaded = _downloaded(hub)
            qbo.click("#update")
            expect(qbo.locator("#notice")).to_contain_text("up to date: there was nothing new")
            checking_tile.click()
            expect(rows).to_have_count(len(first))
            assert _downloaded(hub) == downloaded

            # More activity at the bank; the clock moves a day and the daily pull brings it.
            page.click("#publish")
            expect(page.locator("#notice")).to_contain_text("sent to QuickBooks")
            second = _published(hub, "chk-7315") - first
            assert len(second) == 2
            qbo.reload()
            expect(rows).to_have_count(len(first))
            before = hub.clock.now()
            qbo.click("#advance-day")
            expect(qbo.locator("#notice")).to_contain_text("daily download ran")
            assert hub.clock.now() == before + timedelta(days=1)
            checking_tile.click()
            expect(rows).to_have_count(len(first) + 2)
            assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.transactionId)")) == first | second
            shot(qbo, "qbo-daily-pull")

            # The bank deauthorizes the feed; QuickBooks' next pull fails with a clear message.
            page.click("#disconnect")
            expect(page.locator("#feed-status")).to_have_text("Disconnected")
            expect(page.locator("#connect")).to_be_visible()
            shot(page, "bank-disconnected")
            hub.drain()
            page.reload()
            assert "earlier connection; ignored" not in page.locator("#webhooks").inner_text()
            qbo.click("#advance-day")
            checking_tile.click()
            expect(qbo.locator("#feed-error")).to_contain_text("rejected the sign-in (401)")
            expect(rows).to_have_count(len(first) + 2)
            shot(qbo, "qbo-pull-fails")
            # Update says it failed (amber), never "up to date" beside the red error.
            qbo.click("#update")
            expect(qbo.locator("#notice")).to_contain_text("couldn't update")
            expect(qbo.locator("#notice")).to_have_class("warning")
            shot(qbo, "qbo-update-fails")

            # The way out: new credentials from the bank, then Link account replaces the broken feeds.
            page.click("#connect")
            page.click("#next")
            page.click("#get-credentials")
            main = page.locator("div.lang-main")
            codes = main.locator("dl.credentials code")
            username, password = codes.nth(0).inner_text().strip(), codes.nth(1).inner_text().strip()
            checking_tile.click()
            qbo.click("#relink")
            qbo.fill("#q", "demo bank")
            qbo.click("#search")
            qbo.click(".institution")
            qbo.check("#accept-terms")
            qbo.fill("#username", username)
            qbo.fill("#password", password)
            qbo.click("#sign-in")
            expect(qbo.locator("tr.replacing")).to_have_count(2)
            expect(checking_row.locator(".replaces")).to_contain_text("stopped working: connecting replaces it")
            expect(checking_row.locator("input.select-account")).to_be_enabled()
            expect(checking_row.locator("select")).to_have_value(re.compile(r"[0-9a-f-]{36}"))
            shot(qbo, "qbo-replace-feed")
            qbo.click("#connect")
            expect(qbo.locator("#notice")).to_contain_text("Your account is connected")
            expect(qbo.locator(".tile")).to_have_count(2)
            expect(qbo.locator("#feed-error")).to_have_count(0)
            expect(qbo.locator("#disconnected-accounts")).to_contain_text("Checking")
            shot(qbo, "qbo-replaced")
            hub.drain()
            page.goto(f"{hub.url}/demo/bank")
            expect(page.locator("#feed-status")).to_have_text("Connected")

            # Too many wrong passwords: the sign-in form stays, and says when to try again.
            qbo.click("#link-account")
            qbo.fill("#q", "demo bank")
            qbo.click("#search")
            qbo.click(".institution")
            for _ in range(10):
                qbo.check("#accept-terms")
                qbo.fill("#username", username)
                qbo.fill("#password", "wrong-" + password)
                qbo.click("#sign-in")
                if "Too many" in qbo.locator("#sign-in-error").inner_text():
                    break
            qbo.check("#accept-terms")
            qbo.fill("#username", username)
            qbo.fill("#password", password)  # the right one: still paused, and the page says until when
            qbo.click("#sign-in")
            expect(qbo.locator("#sign-in-error")).to_contain_text("Try again in about 15 minutes")
            expect(qbo.locator("#sign-in")).to_be_visible()
            expect(qbo.locator("#username")).to_have_value(username)
            assert "Bad Gateway" not in visible_text(qbo)
            shot(qbo, "qbo-sign-in-paused")
        except BaseException:
            for i, p in enumerate(context.pages):  # what each tab showed when the journey broke
                p.screenshot(path=str(shots / f"{viewport}-failure-tab{i}.png"), full_page=True)
                print(f"--- tab {i} at failure: {p.url}\n{p.locator('body').inner_text()[:1500]}")
            raise
        finally:
            browser.close()
