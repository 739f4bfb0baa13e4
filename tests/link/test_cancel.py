"""Cancel on the hosted pages: ``connection.failed`` (Codat's "User cancelled" example), the session
ends, the connection stays PendingAuth and can be linked later from a fresh linkUrl."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.kit.jsonutil import format_datetime
from bankfeeds.models import Connection, Event
from tests.fixtures.factories import make_company
from tests.fixtures.reads import events
from tests.idx.helpers import IDX, idx_headers
from tests.link.test_pages import CODE, CSRF, assert_secure, link_url, open_link, path_of

CANCEL_FORM = re.compile(r'<form class="cancel" method="post" action="([^"]+)">\s*'
                         r'<input type="hidden" name="csrf_token" value="([^"]+)">')
CANCELLED = "Connecting QuickBooks Online was cancelled"


def start(client: TestClient, browser: TestClient, database: Database, clock: FrozenClock) -> tuple[str, str, str]:
    """A fresh connection opened in the browser: (company id, connection id, page 1)."""
    company = make_company(database, clock)
    url, body = link_url(client, str(company.id))
    return str(company.id), body["id"], open_link(browser, url)


def cancel_form(browser: TestClient, page: str) -> tuple[str, str]:
    """The Cancel form of a page: (action, CSRF token)."""
    r = browser.get(page)
    assert r.status_code == 200, r.text
    form = CANCEL_FORM.search(r.text)
    assert form, r.text
    return form.group(1), form.group(2)


def status_of(database: Database, connection_id: str) -> str:
    with database.unit_of_work() as session:
        connection = session.get(Connection, uuid.UUID(connection_id))
        assert connection is not None
        return connection.status


def get_credentials(browser: TestClient, page1: str) -> tuple[str, str]:
    token = CSRF.search(browser.get(page1 + "/setup").text)
    assert token
    r = browser.post(page1 + "/setup/credentials", data={"csrf_token": token.group(1)})
    assert r.status_code == 200, r.text
    username, password = CODE.findall(r.text)[:2]
    return username, password


def expected_error(clock: FrozenClock) -> dict[str, str]:
    return {"statusCode": "403", "statusText": "User cancelled linking", "errorMessage": "User cancelled",
            "status": "Active", "erroredOnUtc": format_datetime(clock.now())}


@pytest.mark.parametrize("page", ["", "/setup"], ids=["page1", "page2"])
def test_cancel_records_connection_failed_and_ends_the_session(
    page: str, client: TestClient, browser: TestClient, database: Database, clock: FrozenClock
) -> None:
    company_id, connection_id, page1 = start(client, browser, database, clock)
    action, token = cancel_form(browser, page1 + page)
    assert action == page1 + "/cancel"
    r = browser.post(action, data={"csrf_token": token})
    assert r.status_code == 200, r.text
    assert_secure(r)
    assert CANCELLED in r.text and "ask for a fresh link" in r.text and "Test Bank" in r.text
    assert "have been revoked" not in r.text  # no credentials were got
    # The session cookie is cleared: the pages and the forms need a fresh link now.
    assert re.search(r'bankfeeds_link=""?; .*Max-Age=0', r.headers["set-cookie"]), r.headers["set-cookie"]
    assert "bankfeeds_link" not in browser.cookies
    assert browser.get(page1).status_code == 401
    assert browser.post(action, data={"csrf_token": token}).status_code == 401

    [event] = events(database, "connection.failed")
    assert event["eventType"] == "connection.failed"
    payload = event["payload"]
    assert payload["referenceCompany"]["id"] == company_id
    assert payload["connection"]["id"] == connection_id
    assert payload["connection"]["status"] == "PendingAuth"
    assert payload["connection"]["dataConnectionErrors"] == [expected_error(clock)]
    assert status_of(database, connection_id) == "PendingAuth"
    # The public API shows the error too, until the connection links.
    body = client.get(f"/companies/{company_id}/connections/{connection_id}").json()
    assert body["status"] == "PendingAuth" and body["dataConnectionErrors"] == [expected_error(clock)]


def test_cancel_after_getting_credentials_revokes_them(
    client: TestClient, browser: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    _, connection_id, page1 = start(client, browser, database, clock)
    username, password = get_credentials(browser, page1)
    action, token = cancel_form(browser, page1 + "/setup")
    r = browser.post(action, data={"csrf_token": token})
    assert r.status_code == 200 and CANCELLED in r.text and "have been revoked" in r.text
    # A pull with them later must not link a connection reported as failed.
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, password)).status_code == 401
    assert status_of(database, connection_id) == "PendingAuth"
    assert len(events(database, "connection.failed")) == 1


def test_cancel_needs_the_csrf_token_of_the_session(
    client: TestClient, browser: TestClient, app: FastAPI, database: Database, clock: FrozenClock
) -> None:
    _, connection_id, page1 = start(client, browser, database, clock)
    action, token = cancel_form(browser, page1)
    for data in ({}, {"csrf_token": ""}, {"csrf_token": token + "x"}, {"csrf_token": "x" * 500}):
        r = browser.post(action, data=data)
        assert r.status_code == 403, (data, r.status_code)
        assert "This form has expired" in r.text
        assert_secure(r)
    assert browser.post(action, json={"csrf_token": token}).status_code == 403
    assert browser.get(action).status_code == 405
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as other:
        # The token of another journey (another browser, another connection) is no good here.
        _, _, other_page1 = start(client, other, database, clock)
        other_action, other_token = cancel_form(other, other_page1)
        assert browser.post(action, data={"csrf_token": other_token}).status_code == 403
        # Nor is this journey's token without its session (the other browser's is for its own connection).
        r = other.post(action, data={"csrf_token": token})
        assert r.status_code == 401 and "fresh link" in r.text
        other.cookies.clear()
        assert other.post(other_action, data={"csrf_token": other_token}).status_code == 401
    assert events(database, "connection.failed") == []
    assert status_of(database, connection_id) == "PendingAuth"


def test_cancel_after_linked_records_nothing(
    client: TestClient, browser: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company_id, connection_id, page1 = start(client, browser, database, clock)
    username, password = get_credentials(browser, page1)
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, password)).status_code == 200
    assert status_of(database, connection_id) == "Linked"
    action, token = cancel_form(browser, page1 + "/setup")
    r = browser.post(action, data={"csrf_token": token})
    assert r.status_code == 200, r.text
    assert "Nothing to cancel" in r.text and "Nothing has changed" in r.text and CANCELLED not in r.text
    assert "bankfeeds_link" not in r.headers.get("set-cookie", "")
    assert events(database, "connection.failed") == []
    assert status_of(database, connection_id) == "Linked"
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, password)).status_code == 200
    assert client.get(f"/companies/{company_id}/connections/{connection_id}").json()["dataConnectionErrors"] == []
    # The session carries on: page 2 (to revoke, say) is still there.
    assert browser.get(page1 + "/setup").status_code == 200


def test_a_cancelled_journey_restarts_with_a_fresh_link(
    client: TestClient, browser: TestClient, anon_client: TestClient, app: FastAPI, database: Database,
    clock: FrozenClock,
) -> None:
    company = make_company(database, clock)
    url, body = link_url(client, str(company.id))
    connection_id = body["id"]
    page1 = open_link(browser, url)
    action, token = cancel_form(browser, page1)
    errored = expected_error(clock)
    assert browser.post(action, data={"csrf_token": token}).status_code == 200
    # The used link is dead, in this browser (session ended) and any other.
    assert browser.get(path_of(url)).status_code == 401
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as other:
        assert other.get(path_of(url)).status_code == 401
    # The bank asks for a fresh linkUrl (new OTP); the same browser links this time.
    fresh = client.get(f"/companies/{company.id}/connections/{connection_id}").json()["linkUrl"]
    assert fresh != url
    assert open_link(browser, fresh) == page1
    username, password = get_credentials(browser, page1)
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, password)).status_code == 200
    assert status_of(database, connection_id) == "Linked"
    assert len(events(database, "connection.failed")) == 1
    with database.unit_of_work() as session:
        connected = session.scalars(select(Event).where(Event.event_type == "connection.connected")).all()
        assert len(connected) == 1
    # The cancellation stays on the connection, resolved by the link.
    resolved = {**errored, "status": "Resolved", "resolvedOnUtc": format_datetime(clock.now())}
    got = client.get(f"/companies/{company.id}/connections/{connection_id}").json()
    assert got["status"] == "Linked" and got["dataConnectionErrors"] == [resolved]
    assert connected[0].body["payload"]["connection"]["dataConnectionErrors"] == [resolved]
    # Cancelling now changes nothing.
    action, token = cancel_form(browser, page1)
    assert "Nothing to cancel" in browser.post(action, data={"csrf_token": token}).text
    assert len(events(database, "connection.failed")) == 1


def test_cancel_in_french(client: TestClient, browser: TestClient, database: Database, clock: FrozenClock) -> None:
    _, _, page1 = start(client, browser, database, clock)
    r = browser.get(page1 + "?lang=fr")
    assert ">Annuler</button>" in r.text
    assert ">Annuler</button>" in browser.get(page1 + "/setup").text  # the language cookie keeps French
    action, token = cancel_form(browser, page1)
    r = browser.post(action, data={"csrf_token": token})
    assert r.status_code == 200 and r.headers["content-language"] == "fr" and '<html lang="fr">' in r.text
    french = r.text.index("La connexion à QuickBooks Online a été annulée")
    assert "demandez un nouveau lien" in r.text
    # English is in the page too, behind the in-page switch, before the main (French) part.
    assert r.text.index(CANCELLED) < french and 'href="#lang-en"' in r.text
    assert len(events(database, "connection.failed")) == 1
