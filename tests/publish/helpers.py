"""Running ``bankfeeds publish`` against the live hub and reading the result back."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import simplejson
from sqlalchemy import select
from typer.testing import CliRunner

from bankfeeds.cli.main import app as cli
from bankfeeds.kit.db import Database
from bankfeeds.models import BankTransaction, Company, Connection, SourceAccount

SAMPLES = Path(__file__).parent / "samples"
IDX = "/partners/intuit/idx"
PARTNER_KEY = "test-partner-key"  # tests.fixtures.app.make_settings

# A generous client timeout: a test asserts what the hub answers, never how fast (see bench/).
CLIENT_TIMEOUT = 60.0


def sample(name: str) -> str:
    return str(SAMPLES / name)


@dataclass
class Run:
    exit_code: int
    data: dict[str, Any]
    output: str


def publish(server_url: str, api_key: str, company: Company, connection: Connection, files: list[str],
            state_dir: Path, *extra: str, account: str | None = "acc-1") -> Run:
    args = ["publish", *files, "--company", str(company.id), "--connection", str(connection.id),
            "--server-url", server_url, "--state-dir", str(state_dir), "--json", "--retry-for", "5", "--wait", "10"]
    if account:
        args += ["--account", account]
    result = CliRunner().invoke(cli, [*args, *extra], env={"BANKFEEDS_API_KEY": api_key}, catch_exceptions=False)
    text = result.stdout
    data = simplejson.loads(text, use_decimal=True) if text.strip().startswith("{") else {}
    return Run(result.exit_code, data, result.output)


def idx_transactions(server_url: str, api_key: str, connection: Connection, account: str) -> list[dict[str, Any]]:
    """The account's transactions as QuickBooks pulls them over the IDX API (in the order written)."""
    auth = {"Authorization": "Basic " + base64.b64encode(api_key.encode()).decode()}
    path = f"/companies/{connection.company_id}/connections/{connection.id}/connectionInfo/bankFeedAccounts/credentials"
    r = httpx.post(server_url + path, content=b"{}", headers={**auth, "Content-Type": "application/json"},
                   timeout=CLIENT_TIMEOUT)
    assert r.status_code == 200, r.text
    pair = base64.b64encode(f"{r.json()['username']}:{r.json()['password']}".encode()).decode()
    headers = {"Authorization": f"Basic {pair}", "X-Partner-Key": base64.b64encode(PARTNER_KEY.encode()).decode()}
    r = httpx.get(f"{server_url}{IDX}/accounts/{account}/transactions", params={"pageSize": 2000}, headers=headers,
                  timeout=CLIENT_TIMEOUT)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = simplejson.loads(r.content, use_decimal=True)["results"]
    return results


def idx_view(pulled: list[dict[str, Any]]) -> list[tuple[str, Decimal, str]]:
    """(local date, amount, description) of each pulled transaction; IDX money is {currency, amount}."""
    return [(t["transactionDate"][:10], Decimal(t["amount"]["amount"]), t["transactionDescription"]) for t in pulled]


def source_accounts(server_url: str, api_key: str, connection: Connection) -> dict[str, dict[str, Any]]:
    auth = {"Authorization": "Basic " + base64.b64encode(api_key.encode()).decode()}
    path = f"/companies/{connection.company_id}/connections/{connection.id}/connectionInfo/bankFeedAccounts"
    r = httpx.get(server_url + path, headers=auth, timeout=CLIENT_TIMEOUT)
    assert r.status_code == 200, r.text
    return {a["id"]: a for a in simplejson.loads(r.content, use_decimal=True)}


def stored(database: Database, account: SourceAccount) -> list[BankTransaction]:
    """The rows written for the account, in the order written."""
    with database.unit_of_work() as session:
        rows = list(session.scalars(select(BankTransaction).where(BankTransaction.source_account_id == account.id)
                                    .order_by(BankTransaction.seq)))
        for r in rows:
            session.expunge(r)
    return rows


def triples(rows: list[BankTransaction]) -> list[tuple[str, Decimal, Decimal | None, str | None]]:
    return [(r.date.isoformat(), r.amount, r.balance, r.description) for r in rows]
