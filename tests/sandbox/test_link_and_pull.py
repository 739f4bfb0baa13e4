"""The sandbox's Link account journey and its pulls, against a live hub over the IDX API."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from bankfeeds.models import SandboxBankLogin, SandboxBankTransaction, SandboxFeed
from tests.sandbox import flows
from tests.sandbox.flows import BASE
from tests.sandbox.live_hub import Hub, card, checking, count


def test_link_account_connects_the_feed_and_update_downloads_each_transaction_once(
    hub: Hub, browser: httpx.Client
) -> None:
    company_id, connection_id = hub.feed()
    username, password = hub.credentials(company_id, connection_id)
    cid = flows.company_id(browser, hub.database)
    today = hub.clock.now().date()

    # Search the institutions by name: the hub's institution is found, another name is not.
    found = browser.get(f"{BASE}/companies/{cid}/link", params={"q": "test"})
    assert f'{BASE}/companies/{cid}/link/test-bank"' in found.text
    missing = browser.get(f"{BASE}/companies/{cid}/link", params={"q": "Chase"})
    assert "No institution matches" in missing.text

    checking_id = flows.chart_account(hub.database, cid, "Checking")
    r = flows.link(browser, cid, username, password, {"chk-1": checking_id, "cc-1": "new"},
                   today - timedelta(days=30))
    assert r.status_code == 303 and "notice=linked" in r.headers["location"]

    # The hub saw QuickBooks sign in and pull: the connection is Linked, both accounts connected.
    assert hub.get(f"/companies/{company_id}/connections/{connection_id}")["status"] == "Linked"
    accounts = hub.get(f"/companies/{company_id}/connections/{connection_id}/connectionInfo/bankFeedAccounts")
    assert {a["id"]: a["status"] for a in accounts} == {"chk-1": "connected", "cc-1": "connected"}
    with hub.database.unit_of_work() as session:
        feeds = {f.source_account_id: f for f in session.scalars(select(SandboxFeed))}
    assert str(feeds["chk-1"].account_id) == checking_id
    assert feeds["cc-1"].source_account_name == "Company card"  # mapped to a new Credit Card account

    hub.push(company_id, connection_id, "chk-1", [
        ("t1", today - timedelta(days=2), "-12.50", "987.50"),
        ("t2", today - timedelta(days=1), "200.00", "1187.50"),
    ])
    banking = f"{BASE}/companies/{cid}/banking"
    update = f"{BASE}/companies/{cid}/banking/update"
    assert flows.post_form(browser, banking, update).status_code == 303
    assert sorted(flows.review_ids(browser, cid, str(feeds["chk-1"].id))) == ["t1", "t2"]
    page = browser.get(banking, params={"account": str(feeds["chk-1"].id)})
    assert "$1,187.50" in page.text  # the bank balance, from the IDX account

    # Update again, and after one more push: each transaction is in For review once.
    assert flows.post_form(browser, banking, update).status_code == 303
    hub.push(company_id, connection_id, "chk-1", [("t3", today, "-7.25", "1180.25")])
    assert flows.post_form(browser, banking, update).status_code == 303
    assert sorted(flows.review_ids(browser, cid, str(feeds["chk-1"].id))) == ["t1", "t2", "t3"]
    assert count(hub.database, SandboxBankTransaction) == 3


def test_wrong_credentials_are_refused_and_can_be_retried(hub: Hub, browser: httpx.Client) -> None:
    company_id, connection_id = hub.feed()
    username, password = hub.credentials(company_id, connection_id)
    cid = flows.company_id(browser, hub.database)

    wrong = flows.sign_in(browser, cid, username, "not-the-password")
    assert wrong.status_code == 400
    assert "did not recognise that user ID and password" in wrong.text
    no_terms = flows.sign_in(browser, cid, username, password, accept=False)
    assert no_terms.status_code == 400 and "Accept the terms" in no_terms.text
    assert count(hub.database, SandboxBankLogin) == 0

    right = flows.sign_in(browser, cid, username, password)
    assert right.status_code == 303
    assert count(hub.database, SandboxBankLogin) == 1


def test_feed_start_date_and_90_day_window_filter_what_is_downloaded(hub: Hub, browser: httpx.Client) -> None:
    company_id, connection_id = hub.feed([checking("chk-1")])
    username, password = hub.credentials(company_id, connection_id)
    cid = flows.company_id(browser, hub.database)
    today = hub.clock.now().date()
    r = flows.link(browser, cid, username, password, {"chk-1": "new"}, today - timedelta(days=3))
    assert r.status_code == 303
    hub.push(company_id, connection_id, "chk-1", [
        ("old-1", today - timedelta(days=6), "1.00", "1001.00"),
        ("old-2", today - timedelta(days=4), "1.00", "1002.00"),
        ("in-1", today - timedelta(days=3), "1.00", "1003.00"),
        ("in-2", today, "1.00", "1004.00"),
    ])
    flows.post_form(browser, f"{BASE}/companies/{cid}/banking", f"{BASE}/companies/{cid}/banking/update")
    assert sorted(flows.review_ids(browser, cid)) == ["in-1", "in-2"]


def test_daily_pull_runs_once_a_day_by_the_clock(hub: Hub, browser: httpx.Client) -> None:
    company_id, connection_id = hub.feed([checking("chk-1")])
    username, password = hub.credentials(company_id, connection_id)
    cid = flows.company_id(browser, hub.database)
    today = hub.clock.now().date()
    assert flows.link(browser, cid, username, password, {"chk-1": "new"}, today - timedelta(days=7)).status_code == 303
    hub.push(company_id, connection_id, "chk-1", [("d1", today, "5.00", "1005.00")])

    hub.clock.advance(timedelta(hours=23))
    hub.drain()  # the worker's daily pull: not due yet
    assert flows.review_ids(browser, cid) == []

    hub.clock.advance(timedelta(hours=1))
    hub.drain()
    assert flows.review_ids(browser, cid) == ["d1"]
    with hub.database.unit_of_work() as session:
        feed = session.scalars(select(SandboxFeed)).one()
        assert feed.last_pulled_at == hub.clock.now()


def test_advance_one_day_moves_the_clock_and_runs_the_daily_pull(hub: Hub, browser: httpx.Client) -> None:
    company_id, connection_id = hub.feed([card("cc-1")])
    username, password = hub.credentials(company_id, connection_id)
    cid = flows.company_id(browser, hub.database)
    today = hub.clock.now().date()
    assert flows.link(browser, cid, username, password, {"cc-1": "new"}, today - timedelta(days=7)).status_code == 303
    hub.push(company_id, connection_id, "cc-1", [("c1", today, "-9.99", "-59.99")])
    before = hub.clock.now()

    r = flows.post_form(browser, f"{BASE}/companies/{cid}/banking", f"{BASE}/clock/advance", company_id=cid)
    assert r.status_code == 303 and "notice=advanced" in r.headers["location"]
    assert hub.clock.now() == before + timedelta(days=1)
    assert flows.review_ids(browser, cid) == ["c1"]


def test_after_the_bank_deletes_the_connection_the_next_pull_fails_with_a_clear_message(
    hub: Hub, browser: httpx.Client
) -> None:
    company_id, connection_id = hub.feed([checking("chk-1")])
    username, password = hub.credentials(company_id, connection_id)
    cid = flows.company_id(browser, hub.database)
    today = hub.clock.now().date()
    assert flows.link(browser, cid, username, password, {"chk-1": "new"}, today).status_code == 303

    r = hub.api.delete(f"/companies/{company_id}/connections/{connection_id}")
    assert r.status_code == 200
    flows.post_form(browser, f"{BASE}/companies/{cid}/banking", f"{BASE}/companies/{cid}/banking/update")
    page = browser.get(f"{BASE}/companies/{cid}/banking")
    assert "QuickBooks couldn't update this account." in page.text
    assert "rejected the sign-in (401)" in page.text
    with hub.database.unit_of_work() as session:
        feed = session.scalars(select(SandboxFeed)).one()
        assert feed.last_error and "401" in feed.last_error
        assert feed.status == "connected"  # still linked on QuickBooks' side, failing until relinked


def test_disconnecting_in_the_sandbox_stops_pulls_and_frees_the_account(hub: Hub, browser: httpx.Client) -> None:
    company_id, connection_id = hub.feed([checking("chk-1")])
    username, password = hub.credentials(company_id, connection_id)
    cid = flows.company_id(browser, hub.database)
    today = hub.clock.now().date()
    checking_id = flows.chart_account(hub.database, cid, "Checking")
    assert flows.link(browser, cid, username, password, {"chk-1": checking_id}, today).status_code == 303
    with hub.database.unit_of_work() as session:
        feed_id = str(session.scalars(select(SandboxFeed)).one().id)

    banking = f"{BASE}/companies/{cid}/banking"
    r = flows.post_form(browser, banking, f"{BASE}/companies/{cid}/feeds/{feed_id}/disconnect")
    assert r.status_code == 303
    with hub.database.unit_of_work() as session:
        feed = session.scalars(select(SandboxFeed)).one()
        assert feed.status == "disconnected" and feed.active_account_id is None
        attempted = feed.last_attempt_at
    hub.clock.advance(timedelta(days=2))
    hub.drain()
    with hub.database.unit_of_work() as session:
        assert session.scalars(select(SandboxFeed)).one().last_attempt_at == attempted
    # Checking can take a feed again.
    again = flows.link(browser, cid, username, password, {"chk-1": checking_id}, hub.clock.now().date())
    assert again.status_code == 303
    assert count(hub.database, SandboxFeed) == 2
