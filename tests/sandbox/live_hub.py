"""A hub served by uvicorn on a real port, with helpers that use its public API over HTTP.

The sandbox and the demo bank reach the hub only over HTTP (``public_url`` is the live server's
URL), exactly as they do in production.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select

from bankfeeds.app import create_app
from bankfeeds.config import Settings
from bankfeeds.kit import jsonutil
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.worker.runner import Worker
from tests.fixtures.app import LiveServer, basic, free_port, make_settings

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def count(database: Database, model: Any) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@dataclass
class Hub:
    url: str
    app: FastAPI
    settings: Settings
    clock: FrozenClock
    database: Database
    api: httpx.Client
    api_key: str

    def worker(self) -> Worker:
        return Worker(self.database, self.settings, self.clock)

    def drain(self) -> None:
        worker = self.worker()
        try:
            worker.drain()
        finally:
            worker.close()

    def post(self, path: str, body: Any, status: int = 200) -> Any:
        r = self.api.post(path, content=jsonutil.dumps(body), headers={"Content-Type": "application/json"})
        assert r.status_code == status, r.text
        return jsonutil.loads(r.content) if r.content else None

    def get(self, path: str, status: int = 200) -> Any:
        r = self.api.get(path)
        assert r.status_code == status, r.text
        return jsonutil.loads(r.content) if r.content else None

    def feed(self, accounts: list[dict[str, Any]] | None = None) -> tuple[str, str]:
        """A company with a QuickBooks connection and source accounts (pending)."""
        company = self.post("/companies", {"name": "Acme Ltd"})
        connection = self.post(f"/companies/{company['id']}/connections", {"platformKey": "hcws"})
        accounts = accounts if accounts is not None else [checking("chk-1"), card("cc-1")]
        path = f"/companies/{company['id']}/connections/{connection['id']}/connectionInfo/bankFeedAccounts/batch"
        self.post(path, accounts, status=201)
        return company["id"], connection["id"]

    def credentials(self, company_id: str, connection_id: str) -> tuple[str, str]:
        pair = self.post(
            f"/companies/{company_id}/connections/{connection_id}/connectionInfo/bankFeedAccounts/credentials", {})
        return pair["username"], pair["password"]

    def push(self, company_id: str, connection_id: str, account_id: str,
             txns: list[tuple[str, date, str, str]]) -> dict[str, Any]:
        """Write (id, date, amount, balance) transactions; asserts the push succeeded."""
        body = {"accountId": account_id, "transactions": [
            {"id": tid, "date": f"{d.isoformat()}T00:00:00", "description": f"Txn {tid}",
             "amount": Decimal(amount), "balance": Decimal(balance),
             "transactionType": "Credit" if Decimal(amount) >= 0 else "Debit"}
            for tid, d, amount, balance in txns]}
        op = self.post(f"/companies/{company_id}/connections/{connection_id}/push/bankAccounts/{account_id}"
                       "/bankTransactions", body)
        assert op["status"] in ("Success", "Pending"), op
        return dict(op)


def checking(account_id: str, name: str = "Operating account") -> dict[str, Any]:
    return {"id": account_id, "accountName": name, "accountType": "checking", "accountNumber": "11112222",
            "currency": "USD", "balance": Decimal("1000.00")}


def card(account_id: str, name: str = "Company card") -> dict[str, Any]:
    return {"id": account_id, "accountName": name, "accountType": "creditCard", "accountNumber": "4111000011119042",
            "currency": "USD", "balance": Decimal("-50.00")}


@contextmanager
def live_hub(database: Database, db_url: str, clock: FrozenClock, api_key: str, **overrides: Any) -> Iterator[Hub]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(db_url, public_url=url, **overrides)
    app = create_app(settings, clock=clock, database=database, run_worker=False)
    with LiveServer(app, port), httpx.Client(base_url=url, headers={"Authorization": basic(api_key)},
                                              timeout=30) as api:
        yield Hub(url, app, settings, clock, database, api, api_key)


def hub_fixture(*, demo_bank_key: bool = False, **overrides: Any) -> Any:
    """A ``hub`` fixture: the hub on a real port in demo mode (the sandboxes and the demo bank
    mounted, the clock can move), its settings changed by ``overrides``; with ``demo_bank_key``
    the demo bank holds the test's API key. In a conftest or module: ``hub = hub_fixture()``."""

    @pytest.fixture
    def hub(database: Database, db_url: str, clock: FrozenClock, api_key: str) -> Iterator[Hub]:
        with live_hub(database, db_url, clock, api_key, demo=True, **overrides) as h:
            if demo_bank_key:
                h.app.state.demo_bank.api_key = SecretStr(api_key)
            yield h

    return hub


@pytest.fixture
def browser(hub: Hub) -> Iterator[httpx.Client]:
    """A cookie-keeping HTTP client for the hub's pages (no redirects followed); import it with
    ``hub_fixture`` into the conftest or module that makes ``hub``."""
    with httpx.Client(base_url=hub.url, timeout=30, follow_redirects=False) as c:
        yield c


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
