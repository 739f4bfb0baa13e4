from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Company, Connection, XeroGrant
from tests.fixtures.factories import make_company
from tests.fixtures.xero_sandbox import DEMO_EMAIL, DEMO_PASSWORD, consent


def new_xero_connection(client: TestClient, database: Database, clock: FrozenClock,
                        name: str = "Acme Ltd") -> tuple[Company, Connection, str]:
    """A company with a gbol connection made through the API; its linkUrl."""
    company = make_company(database, clock, name)
    r = client.post(f"/companies/{company.id}/connections", json={"platformKey": "gbol"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "PendingAuth" and "otp=" in body["linkUrl"]
    with database.unit_of_work() as session:
        connection = session.get(Connection, uuid.UUID(body["id"]))
        assert connection is not None
        session.expunge(connection)
    return company, connection, body["linkUrl"]


def open_link(browser: TestClient, link_url: str) -> str:
    """Follow the linkUrl to the Xero connect page; its path."""
    r = browser.get(link_url)
    assert r.status_code == 303, r.text
    r = browser.get(r.headers["location"])
    assert r.status_code == 303, r.text  # the QuickBooks page hands over to Xero's
    page = r.headers["location"]
    assert page.endswith("/xero")
    return page


def authorize(browser: TestClient, page: str) -> str:
    """Press "Connect to Xero": the authorize URL the hub sends the browser to."""
    r = browser.get(page + "/authorize")
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def callback_path(location: str) -> str:
    parts = urlsplit(location)
    assert parts.path == "/link/xero/callback", location
    return f"{parts.path}?{parts.query}"


def link(client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database,
         clock: FrozenClock, *, organisations: list[str] | None = None,
         name: str = "Acme Ltd") -> tuple[Company, Connection, httpx.Response | Any]:
    """Link a new gbol connection to one Xero organisation (default: Acme Trading Ltd, GBP)."""
    company, connection, link_url = new_xero_connection(client, database, clock, name)
    page = open_link(browser, link_url)
    location = consent(xero_browser, authorize(browser, page), email=DEMO_EMAIL, password=DEMO_PASSWORD,
                       organisations=organisations or ["Acme Trading Ltd"])
    r = browser.get(callback_path(location))
    return company, connection, r


def query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


def status(database: Database, connection: Connection) -> str:
    with database.unit_of_work() as session:
        row = session.get(Connection, connection.id)
        assert row is not None
        return row.status


def grant(database: Database, connection: Connection) -> XeroGrant | None:
    with database.unit_of_work() as session:
        row = session.scalars(select(XeroGrant).where(XeroGrant.connection_id == connection.id)).one_or_none()
        if row is not None:
            session.expunge(row)
        return row


def link_through(browser: TestClient, xero_browser: httpx.Client, link_url: str,
                 organisations: list[str] | None = None) -> None:
    """Walk an existing PendingAuth connection's linkUrl through Xero's consent to Linked."""
    page = open_link(browser, link_url)
    location = consent(xero_browser, authorize(browser, page), email=DEMO_EMAIL, password=DEMO_PASSWORD,
                       organisations=organisations or ["Acme Trading Ltd"])
    r = browser.get(callback_path(location))
    assert r.status_code == 303 and "linked=1" in r.headers["location"], r.text
