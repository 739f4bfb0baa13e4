"""Link sessions are held server-side: Cancel and Revoke end them, so a copy of the old cookie
and CSRF token can neither get credentials nor link the connection afterwards (issue 9, item 5)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.link.service import SESSION_COOKIE
from tests.link.test_cancel import cancel_form, start, status_of


def _get_credentials(app: FastAPI, page: str, cookie: str, csrf: str) -> int:
    """As an attacker holding a copy of the cookie and the CSRF token."""
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as thief:
        thief.cookies.set(SESSION_COOKIE, cookie, path="/link")
        r = thief.post(page + "/setup/credentials", data={"csrf_token": csrf})
        return r.status_code


def test_after_cancel_the_old_cookie_gets_no_credentials_and_cannot_link(
    client: TestClient, browser: TestClient, app: FastAPI, database: Database, clock: FrozenClock
) -> None:
    _, connection_id, page = start(client, browser, database, clock)
    cookie = browser.cookies.get(SESSION_COOKIE)
    assert cookie
    action, csrf = cancel_form(browser, page)
    assert browser.post(action, data={"csrf_token": csrf}).status_code == 200
    assert _get_credentials(app, page, cookie, csrf) == 401
    assert status_of(database, connection_id) == "PendingAuth"


def test_revoke_ends_the_session_for_every_copy_and_the_user_carries_on(
    client: TestClient, browser: TestClient, app: FastAPI, database: Database, clock: FrozenClock
) -> None:
    _, _, page = start(client, browser, database, clock)
    old_cookie = browser.cookies.get(SESSION_COOKIE)
    assert old_cookie
    _, csrf = cancel_form(browser, page)
    assert browser.post(page + "/setup/credentials", data={"csrf_token": csrf}).status_code == 200
    r = browser.post(page + "/setup/revoke", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert _get_credentials(app, page, old_cookie, csrf) == 401   # the copy is dead
    assert browser.get(r.headers["location"]).status_code == 200     # the user is not
    _, fresh_csrf = cancel_form(browser, page)
    assert fresh_csrf != csrf
    got = browser.post(page + "/setup/credentials", data={"csrf_token": fresh_csrf})
    assert got.status_code == 200


def test_deleting_credentials_through_the_api_ends_the_link_sessions(
    client: TestClient, browser: TestClient, app: FastAPI, database: Database, clock: FrozenClock
) -> None:
    company_id, connection_id, page = start(client, browser, database, clock)
    cookie = browser.cookies.get(SESSION_COOKIE)
    assert cookie
    _, csrf = cancel_form(browser, page)
    path = f"/companies/{company_id}/connections/{connection_id}/connectionInfo/bankFeedAccounts/credentials"
    assert client.delete(path).status_code == 204
    assert _get_credentials(app, page, cookie, csrf) == 401
    assert browser.get(page).status_code == 401
