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
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bankfeeds.demo.config import DemoBankConfig
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import DemoAccount, DemoTransaction, SandboxBankTransaction
from tests.sandbox.live_hub import Hub, live_hub

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture
def hub(database: Database, db_url: str, clock: FrozenClock, api_key: str) -> Iterator[Hub]:
    with live_hub(database, db_url, clock, api_key, demo=True, institution_name="Demo Bank") as h:
        h.app.state.demo_bank.config = DemoBankConfig(api_key=SecretStr(api_key))
        yield h


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = Path(request.config.rootpath) / "test-results" / "journey"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
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


def test_the_quickbooks_journey_in_chromium(hub: Hub, shots: Path) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import Page, expect, sync_playwright

    step = 0

    def shot(page: Page, name: str) -> None:
        nonlocal step
        step += 1
        page.screenshot(path=str(shots / f"{step:02d}-{name}.png"), full_page=True)

    today = hub.clock.now().date()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            page = context.new_page()

            # 1. Signed in to online banking.
            page.goto(f"{hub.url}/demo/bank")
            expect(page.locator("#customer-name")).to_have_text("Maple Street Bakery LLC")
            expect(page.locator("#feed-status")).to_have_text("Not connected")
            shot(page, "online-banking")

            # 2-3. Connect to QuickBooks: the bank's backend calls the hub, the customer lands on the linkUrl.
            page.click("#connect")
            expect(page.locator("h1")).to_have_text("Connect to QuickBooks Online Bank Feeds")
            assert re.search(r"/link/companies/[^/]+/connections/[^/?]+$", page.url)
            shot(page, "link-connect-en")
            page.click("a[hreflang=fr]")
            expect(page.locator("h1")).to_have_text("Connexion aux flux bancaires QuickBooks Online")
            shot(page, "link-connect-fr")
            page.get_by_role("link", name="Suivant", exact=True).click()
            expect(page.locator("h1")).to_have_text("Configurer QuickBooks")
            expect(page.locator("button[type=submit]").first).to_have_text("Obtenir des identifiants")
            shot(page, "link-setup-fr")
            page.click("a[hreflang=en]")
            expect(page.locator("h1")).to_have_text("Set up QuickBooks")
            page.get_by_role("button", name="Get credentials", exact=True).click()
            main = page.locator("div.lang-main[lang=en]")
            expect(main.locator("h1")).to_have_text("Your QuickBooks credentials")
            expect(main.locator("h1")).to_be_visible()
            codes = main.locator("dl.credentials code")
            username, password = codes.nth(0).inner_text().strip(), codes.nth(1).inner_text().strip()
            assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", username) and len(password) == 16
            shot(page, "link-credentials")

            # 4. Sign in to QuickBooks Online (the sandbox) and choose Link account.
            qbo = context.new_page()
            qbo.goto(f"{hub.url}/sandbox/qbo")
            qbo.get_by_role("link", name="Sign in to Craig's Design and Landscaping Services").click()
            expect(qbo.locator("#no-feeds")).to_be_visible()
            shot(qbo, "qbo-banking-empty")
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
            options = checking_row.locator("select option").all_inner_texts()
            assert not any("Income" in o or "Expenses" in o for o in options)
            qbo.fill("#feed_start_date", (today - timedelta(days=30)).isoformat())
            shot(qbo, "qbo-map-accounts")

            # 8. Connect: the link is complete.
            qbo.click("#connect")
            expect(qbo.locator("#notice")).to_contain_text("Your account is connected")
            expect(qbo.locator(".tile")).to_have_count(2)
            shot(qbo, "qbo-linked")

            # 9-10. The connection is Linked and the bank learns it by (svix-verified) webhook.
            hub.drain()
            page.goto(f"{hub.url}/demo/bank")
            expect(page.locator("#feed-status")).to_have_text("Linked")
            expect(page.locator("#webhooks")).to_contain_text("connection.connected")
            shot(page, "bank-linked")

            # The bank publishes transactions; Update in QuickBooks shows them, once.
            page.click("#publish")
            expect(page.locator("#notice")).to_contain_text("sent to QuickBooks")
            shot(page, "bank-published")
            first = _published(hub, "chk-7315")
            assert first
            qbo.goto(f"{hub.url}/sandbox/qbo")
            qbo.get_by_role("link", name="Sign in to Craig's Design and Landscaping Services").click()
            qbo.click("#update")
            checking_tile = qbo.locator(".tile", has_text="Checking")
            checking_tile.click()
            rows = qbo.locator("#for-review tbody tr")
            expect(rows).to_have_count(len(first))
            assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.transactionId)")) == first
            shot(qbo, "qbo-update")
            downloaded = _downloaded(hub)
            qbo.click("#update")
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
            qbo.click("#advance-day")
            checking_tile.click()
            expect(qbo.locator("#feed-error")).to_contain_text("rejected the sign-in (401)")
            expect(rows).to_have_count(len(first) + 2)
            shot(qbo, "qbo-pull-fails")
        except BaseException:
            for i, p in enumerate(context.pages):  # what each tab showed when the journey broke
                p.screenshot(path=str(shots / f"failure-tab{i}.png"), full_page=True)
                print(f"--- tab {i} at failure: {p.url}\n{p.locator('body').inner_text()[:1500]}")
            raise
        finally:
            browser.close()
