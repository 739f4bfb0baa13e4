"""The console walked in Debian's Chromium, at 1280 px and 390 px wide.

Support signs in, finds a customer by account number, opens a QuickBooks feed whose pulls stopped
(the clock moved eight days): its backlog and the days left before QuickBooks disconnects it; a
webhook the bank's endpoint refused is resent and delivered; an admin revokes an API key; a viewer
is refused the API keys. Screenshots go to test-results/console/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.api_keys import service as api_keys
from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import ApiKey, SourceAccount, WebhookMessage
from bankfeeds.webhooks import service as webhooks
from bankfeeds.webhooks.tasks import deliver_messages, dispatch_events, purge_old_events
from bankfeeds.worker.runner import Worker
from tests.bank_transactions.helpers import post, txn, write_url
from tests.console.helpers import ADMIN_PASSWORD, VIEWER_PASSWORD, Receiver, make_operator
from tests.fixtures.app import LiveServer, make_settings
from tests.fixtures.factories import make_company, make_connection, make_source_account

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = Path(request.config.rootpath) / "test-results" / "console"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Webhooks go to a receiver on 127.0.0.1: private targets allowed (issue 9 refuses them by default)."""
    return make_settings(db_url, webhooks_allow_private_targets=True)


def test_support_walks_the_console_in_chromium(
    app: FastAPI, client: TestClient, database: Database, clock: FrozenClock, settings: Settings,
    receiver: Receiver, shots: Path,
) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import Page, expect, sync_playwright

    # The bank: a webhook endpoint (down at first), two customers, a second API key to retire.
    with database.unit_of_work() as session:
        webhooks.add(session, clock, settings, receiver.url, ["bankTransactions.write.successful"])
        old_key, _ = api_keys.create(session, clock, "old integration")
    make_operator(database, clock, "alice", "admin", ADMIN_PASSWORD)
    make_operator(database, clock, "victor", "viewer", VIEWER_PASSWORD)
    now = clock.now()
    bakery = make_company(database, clock, "Northwind Bakery")
    bakery_conn = make_connection(database, clock, bakery, status="Linked")
    make_source_account(database, clock, bakery_conn, "chq-001", account_name="Business Checking",
                        account_number="40021234", connected_at=now - timedelta(days=30),
                        last_pulled_at=now - timedelta(hours=1))
    cafe = make_company(database, clock, "Harbour Café")
    cafe_conn = make_connection(database, clock, cafe, status="Linked")
    cafe_account = make_source_account(database, clock, cafe_conn, "chq-002", account_number="40029999",
                                       connected_at=now - timedelta(days=30), last_pulled_at=now)
    body = {"accountId": "chq-001", "transactions": [txn(1), txn(2), txn(3)]}
    assert post(client, write_url(bakery, bakery_conn, "chq-001"), body).json()["status"] == "Success"
    worker = Worker(database, settings, clock, tasks=[dispatch_events, deliver_messages(), purge_old_events])
    worker.drain()
    assert receiver.received == 1
    with database.unit_of_work() as session:
        [message] = session.scalars(select(WebhookMessage)).all()
        assert message.status == "Attempting"
        message_id = message.id
    # Eight days pass: QuickBooks stopped pulling the bakery's account; the café's was pulled today.
    clock.advance(timedelta(days=8))
    with database.unit_of_work() as session:
        pulled = session.get(SourceAccount, cafe_account.id)
        assert pulled is not None
        pulled.last_pulled_at = clock.now()

    step = 0

    def shot(page: Page, name: str) -> None:
        nonlocal step
        step += 1
        page.screenshot(path=str(shots / f"{step:02d}-{name}.png"), full_page=True)

    with LiveServer(app) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width, label in ((1280, "desktop"), (390, "mobile")):
                context = browser.new_context(viewport={"width": width, "height": 860}, locale="en-GB")
                page = context.new_page()
                page.goto(f"{server.url}/console")
                expect(page.locator("h1")).to_have_text("Sign in")
                if width == 1280:
                    shot(page, f"sign-in-{label}")
                page.fill("#username", "alice")
                page.fill("#password", ADMIN_PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                expect(page.locator("h1")).to_have_text("Overview")
                attention = page.locator("table.attention")
                expect(attention).to_contain_text("Northwind Bakery")
                expect(attention).to_contain_text("Close to inactivity disconnection")
                expect(attention).not_to_contain_text("Harbour Café")
                expect(page.locator("svg.chart")).to_have_count(4)
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                shot(page, f"overview-{label}")

                # Find the customer by account number.
                page.get_by_role("link", name="Search").click()
                page.fill("#q", "40021234")
                page.locator("main").get_by_role("button", name="Search").click()
                expect(page.locator("ul.results")).to_contain_text("Northwind Bakery")
                expect(page.locator("ul.results")).not_to_contain_text("Harbour Café")
                shot(page, f"search-{label}")
                page.get_by_role("link", name="Northwind Bakery").click()
                expect(page.locator("h1")).to_have_text("Northwind Bakery")
                feed = page.locator("article.feed")
                expect(feed.locator("dd.days")).to_have_text("2")
                expect(feed.locator("dd.backlog")).to_have_text("3 transaction(s) · oldest 8 days")
                expect(feed).to_contain_text("Transactions waiting over a day")
                shot(page, f"company-{label}")
                page.click("a[hreflang=fr]")
                expect(page.locator("article.feed dt").nth(3)).to_have_text("Jours avant la déconnexion par QuickBooks")
                shot(page, f"company-fr-{label}")
                page.click("a[hreflang=en]")
                if width == 390:
                    # Nothing wider than the screen but the tables, which scroll inside their frame.
                    assert page.evaluate("document.documentElement.scrollWidth") <= 390
                    context.close()
                    continue

                # The webhook the bank's endpoint refused: resend it once the endpoint is back.
                page.get_by_role("link", name="Webhooks").click()
                page.get_by_role("link", name=receiver.url).click()
                page.get_by_role("link", name="Attempts").first.click()
                expect(page.locator("strong.status")).to_have_text("Attempting")
                expect(page.locator("tbody tr")).to_have_count(1)
                expect(page.locator("tbody")).to_contain_text("500")
                shot(page, "webhook-failed")
                receiver.status = 200
                page.get_by_role("button", name="Resend this message").click()
                expect(page.locator("strong.status")).to_have_text("Sending")
                worker.drain()
                page.reload()
                expect(page.locator("strong.status")).to_have_text("Success")
                expect(page.locator("tbody tr")).to_have_count(2)
                shot(page, "webhook-resent")

                # An admin revokes an API key.
                page.get_by_role("link", name="API keys").click()
                row = page.locator(f"tr[data-key='{old_key.id}']")
                row.get_by_role("link", name="Revoke").click()
                expect(page.locator("h1")).to_have_text("Revoke the key “old integration”?")
                shot(page, "api-key-confirm")
                page.locator("main").get_by_role("button", name="Revoke").click()
                expect(page.locator(f"tr[data-key='{old_key.id}']")).to_contain_text("revoked")
                shot(page, "api-key-revoked")
                page.get_by_role("link", name="Audit log").click()
                expect(page.locator("tbody")).to_contain_text("api_key_revoke")
                expect(page.locator("tbody")).to_contain_text("webhook_resend")
                shot(page, "audit-log")
                page.get_by_role("button", name="Sign out").click()
                expect(page.locator("h1")).to_have_text("Sign in")
                context.close()

            # A viewer reads, and is refused the API keys.
            context = browser.new_context(viewport={"width": 390, "height": 860})
            page = context.new_page()
            page.goto(f"{server.url}/console/login")
            page.fill("#username", "victor")
            page.fill("#password", VIEWER_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("h1")).to_have_text("Overview")
            expect(page.locator("nav.menu")).not_to_contain_text("API keys")
            page.goto(f"{server.url}/console/webhooks/{_consumer_id(database)}/messages/{message_id}")
            expect(page.get_by_role("button", name="Resend this message")).to_have_count(0)
            response = page.goto(f"{server.url}/console/api-keys")
            assert response is not None and response.status == 403
            expect(page.locator("h1")).to_have_text("Not allowed")
            expect(page.locator("main")).to_contain_text("Only an administrator can do this.")
            expect(page.locator("form.who")).to_contain_text("victor (viewer)")
            shot(page, "viewer-refused-mobile")
            context.close()
        finally:
            browser.close()

    with database.unit_of_work() as session:
        assert session.get(ApiKey, old_key.id).revoked_at is not None  # type: ignore[union-attr]
        assert session.get(WebhookMessage, message_id).status == "Success"  # type: ignore[union-attr]
    assert receiver.received == 2


def _consumer_id(database: Database) -> str:
    from bankfeeds.models import WebhookConsumer

    with database.unit_of_work() as session:
        return str(session.scalars(select(WebhookConsumer.id)).one())
