"""Bad input on every sandbox page: a clear 4xx page, nothing changed, never a 500."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.models import SandboxAccount, SandboxBankLogin, SandboxFeed
from tests.sandbox import flows
from tests.sandbox.flows import BASE
from tests.sandbox.live_hub import Hub, checking, count, csrf


def assert_page(r: httpx.Response, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert text in r.text, r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]


@pytest.fixture
def signed_in(hub: Hub, browser: httpx.Client) -> tuple[str, str]:
    """A company and the accounts-form URL of a fresh sign-in to the hub's institution."""
    company_id, connection_id = hub.feed([checking("chk-1"), checking("chk-2", "Payroll account")])
    username, password = hub.credentials(company_id, connection_id)
    cid = flows.company_id(browser, hub.database)
    r = flows.sign_in(browser, cid, username, password)
    assert r.status_code == 303
    return cid, r.headers["location"]


def test_unknown_and_malformed_addresses(hub: Hub, browser: httpx.Client) -> None:
    cid = flows.company_id(browser, hub.database)
    assert_page(browser.get(f"{BASE}/companies/{uuid.uuid4()}/banking"), 404, "no sandbox company")
    assert browser.get(f"{BASE}/companies/not-a-uuid/banking").status_code in (400, 404)
    assert_page(browser.get(f"{BASE}/companies/{cid}/link/no-such-bank"), 404, "not in QuickBooks")
    assert_page(browser.get(f"{BASE}/companies/{cid}/link/logins/{uuid.uuid4()}/accounts"), 404, "Start Link account")
    assert_page(browser.get(f"{BASE}/companies/{cid}/banking", params={"account": str(uuid.uuid4())}), 404,
                "not linked")
    assert browser.get(f"{BASE}/companies/{cid}/link", params={"q": "x" * 101}).status_code == 400
    assert browser.get(f"{BASE}/nowhere").status_code == 404
    assert browser.delete(f"{BASE}/companies/{cid}/banking").status_code == 405


def test_forms_need_their_csrf_token(hub: Hub, browser: httpx.Client, signed_in: tuple[str, str]) -> None:
    cid, accounts_url = signed_in
    for url in (f"{BASE}/companies/{cid}/banking/update", f"{BASE}/clock/advance", accounts_url,
                f"{BASE}/companies/{cid}/link/test-bank"):
        assert_page(browser.post(url, data={"csrf_token": "forged", "count": "0"}), 403, "security token")
    with httpx.Client(base_url=hub.url) as stranger:  # no cookie at all
        assert stranger.post(f"{BASE}/clock/advance", data={"csrf_token": "x"}).status_code == 403
    assert count(hub.database, SandboxFeed) == 0 and count(hub.database, SandboxBankLogin) == 1


@pytest.mark.parametrize(("start", "message"), [
    (-91, "between"), (1, "between"), (None, "YYYY-MM-DD"),
])
def test_feed_start_date_must_be_within_90_days(
    hub: Hub, browser: httpx.Client, signed_in: tuple[str, str], start: int | None, message: str
) -> None:
    _, accounts_url = signed_in
    page = browser.get(accounts_url)
    today = hub.clock.now().date()
    value = "24/11/2026" if start is None else (today + timedelta(days=start)).isoformat()
    r = browser.post(accounts_url, data={"csrf_token": csrf(page.text), "count": "2", "source_0": "chk-1",
                                         "select_0": "yes", "target_0": "new", "source_1": "chk-2",
                                         "feed_start_date": value})
    assert_page(r, 400, message)
    assert count(hub.database, SandboxFeed) == 0


def test_mapping_must_pick_free_bank_or_card_accounts(
    hub: Hub, browser: httpx.Client, signed_in: tuple[str, str]
) -> None:
    cid, accounts_url = signed_in
    today = hub.clock.now().date()
    income = flows.chart_account(hub.database, cid, "Design income")
    checking_id = flows.chart_account(hub.database, cid, "Checking")
    before = count(hub.database, SandboxAccount)

    assert_page(flows.connect(browser, accounts_url, {}, today), 400, "Select at least one account")
    assert_page(flows.connect(browser, accounts_url, {"chk-1": income}, today), 400, "cannot take a bank feed")
    assert_page(flows.connect(browser, accounts_url, {"chk-1": "not-an-id"}, today), 400, "Choose an account")
    assert_page(flows.connect(browser, accounts_url, {"chk-1": checking_id, "chk-2": checking_id}, today), 400,
                "chosen for two bank accounts")
    # A failed form creates nothing, not even the "new" account it asked for.
    assert_page(flows.connect(browser, accounts_url, {"chk-1": "new", "chk-2": income}, today), 400,
                "cannot take a bank feed")
    assert count(hub.database, SandboxFeed) == 0 and count(hub.database, SandboxAccount) == before

    assert flows.connect(browser, accounts_url, {"chk-1": checking_id}, today).status_code == 303
    # Checking has a feed now: it is no longer offered, and a forged form cannot reuse it.
    page = browser.get(accounts_url)
    assert f'value="{checking_id}"' not in page.text
    assert "Already linked to Checking" in page.text
    assert_page(flows.connect(browser, accounts_url, {"chk-2": checking_id}, today), 400, "cannot take a bank feed")
    assert count(hub.database, SandboxFeed) == 1


def test_tampered_account_lists_are_refused(hub: Hub, browser: httpx.Client, signed_in: tuple[str, str]) -> None:
    _, accounts_url = signed_in
    today = hub.clock.now().date().isoformat()
    token = csrf(browser.get(accounts_url).text)
    for data in (
        {"count": "abc"}, {"count": "5000"},
        {"count": "1", "select_0": "yes", "target_0": "new"},  # no source
        {"count": "1", "source_0": "someone-elses", "select_0": "yes", "target_0": "new"},
    ):
        r = browser.post(accounts_url, data={"csrf_token": token, "feed_start_date": today, **data})
        assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("text/html"), r.text
    assert count(hub.database, SandboxFeed) == 0


def test_disconnecting_twice_or_an_unknown_feed(hub: Hub, browser: httpx.Client, signed_in: tuple[str, str]) -> None:
    cid, accounts_url = signed_in
    assert flows.connect(browser, accounts_url, {"chk-1": "new"}, hub.clock.now().date()).status_code == 303
    with hub.database.unit_of_work() as session:
        feed_id = session.scalars(select(SandboxFeed.id)).one()
    banking = f"{BASE}/companies/{cid}/banking"
    assert flows.post_form(browser, banking, f"{BASE}/companies/{cid}/feeds/{feed_id}/disconnect").status_code == 303
    assert_page(flows.post_form(browser, banking, f"{BASE}/companies/{cid}/feeds/{feed_id}/disconnect"), 400,
                "already disconnected")
    assert_page(flows.post_form(browser, banking, f"{BASE}/companies/{cid}/feeds/{uuid.uuid4()}/disconnect"), 404,
                "not linked")


def test_the_sandbox_and_its_clock_exist_only_in_demo_mode(anon_client: TestClient, clock: object) -> None:
    # Outside demo mode the sandbox is not mounted at all, whatever the environment.
    before = clock.now()  # type: ignore[attr-defined]
    assert anon_client.get(BASE).status_code == 404
    r = anon_client.post(f"{BASE}/clock/advance", data={"csrf_token": "x"})
    assert r.status_code == 404
    assert clock.now() == before  # type: ignore[attr-defined]


def test_an_unreachable_bank_is_a_clear_502(hub: Hub, browser: httpx.Client) -> None:
    from bankfeeds.sandbox.directory import Directory, Institution
    from tests.fixtures.app import free_port

    sandbox = hub.app.state.sandbox
    sandbox.directory = Directory([Institution("Test Bank", f"http://127.0.0.1:{free_port()}/idx", "k")])
    cid = flows.company_id(browser, hub.database)
    r = flows.sign_in(browser, cid, "USER-NAME-0000", "password")
    assert_page(r, 502, "could not be reached")
    assert count(hub.database, SandboxBankLogin) == 0
