"""The sandbox's pages driven over HTTP, as a user's browser would (forms, CSRF, redirects)."""

from __future__ import annotations

import re
import uuid
from datetime import date

import httpx
from sqlalchemy import select

from bankfeeds.kit.db import Database
from bankfeeds.models import SandboxAccount, SandboxCompany
from tests.sandbox.live_hub import csrf

BASE = "/sandbox/qbo"
CRAIG = "Craig's Design and Landscaping Services"


def company_id(browser: httpx.Client, database: Database, name: str = CRAIG) -> str:
    assert browser.get(BASE).status_code == 200  # seeds the sandbox companies on first visit
    with database.unit_of_work() as session:
        company = session.scalars(select(SandboxCompany).where(SandboxCompany.name == name)).one()
        return str(company.id)


def chart_account(database: Database, company: str, name: str) -> str:
    with database.unit_of_work() as session:
        row = session.scalars(select(SandboxAccount).where(
            SandboxAccount.company_id == uuid.UUID(company), SandboxAccount.name == name)).one()
        return str(row.id)


def sign_in(browser: httpx.Client, company: str, username: str, password: str,
            institution: str = "test-bank", accept: bool = True) -> httpx.Response:
    page = browser.get(f"{BASE}/companies/{company}/link/{institution}")
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf(page.text), "username": username, "password": password}
    if accept:
        data["accept_terms"] = "yes"
    return browser.post(f"{BASE}/companies/{company}/link/{institution}", data=data)


def sources_on(html: str) -> list[str]:
    return [m.group(2) for m in re.finditer(r'name="source_(\d+)" value="([^"]+)"', html)]


def connect(browser: httpx.Client, accounts_url: str, mapping: dict[str, str], start: date) -> httpx.Response:
    """Submit the Choose accounts form: ``mapping`` is source account id -> chart account id or "new"."""
    page = browser.get(accounts_url)
    assert page.status_code == 200, page.text
    sources = sources_on(page.text)
    data = {"csrf_token": csrf(page.text), "count": str(len(sources)), "feed_start_date": start.isoformat()}
    for i, source in enumerate(sources):
        data[f"source_{i}"] = source
        if source in mapping:
            data[f"select_{i}"] = "yes"
            data[f"target_{i}"] = mapping[source]
    return browser.post(accounts_url, data=data)


def link(browser: httpx.Client, company: str, username: str, password: str, mapping: dict[str, str],
         start: date) -> httpx.Response:
    r = sign_in(browser, company, username, password)
    assert r.status_code == 303, r.text
    return connect(browser, r.headers["location"], mapping, start)


def post_form(browser: httpx.Client, page_url: str, action: str, **fields: str) -> httpx.Response:
    page = browser.get(page_url)
    assert page.status_code == 200, page.text
    return browser.post(action, data={"csrf_token": csrf(page.text), **fields})


def review_ids(browser: httpx.Client, company: str, feed: str | None = None) -> list[str]:
    url = f"{BASE}/companies/{company}/banking" + (f"?account={feed}" if feed else "")
    page = browser.get(url)
    assert page.status_code == 200, page.text
    return re.findall(r'data-transaction-id="([^"]+)"', page.text)
