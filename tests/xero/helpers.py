"""Helpers for hub-side Xero tests: a Xero connection linked to a sandbox organisation, its feeds,
pushes through the public API, and the worker's delivery lane driven pass by pass."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.kit.clock import Clock, FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import (
    Company,
    Connection,
    ConnectionStatus,
    PushOperation,
    SourceAccount,
    SourceAccountStatus,
    StatementDelivery,
    XeroSandboxStatement,
    XeroSandboxStatementLine,
)
from bankfeeds.platforms.gbol import tokens
from bankfeeds.platforms.gbol.tasks import check_feeds, confirm_feeds, deliver_statements
from bankfeeds.platforms.gbol.xero_api import XeroApi
from bankfeeds.source_accounts import service as source_accounts
from bankfeeds.worker.runner import Worker
from tests.bank_transactions.helpers import post, write_url
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.fixtures.xero_sandbox import DEMO_EMAIL, DEMO_PASSWORD, XeroSandboxServer, consent, pkce_pair
from tests.fixtures.xero_spec import SpecCheck, checked_client


@dataclass
class XeroFeed:
    company: Company
    connection: Connection
    account: SourceAccount
    tenant_id: str
    feed_id: str


def link(database: Database, clock: Clock, settings: Settings, http: httpx.Client,
         organisation: str = "Acme Trading Ltd", *, company_name: str = "Acme Trading Ltd") -> tuple[Company, Connection, str]:
    """A gbol connection linked to ``organisation`` by a real OAuth consent in the sandbox."""
    company = make_company(database, clock, company_name)
    connection = make_connection(database, clock, company, "gbol")
    api = XeroApi(settings, database, clock, http=http)
    verifier, challenge = pkce_pair()
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        location = consent(browser, api.authorize_url(state=uuid.uuid4().hex, code_challenge=challenge),
                           email=DEMO_EMAIL, password=DEMO_PASSWORD, organisations=[organisation])
    code = parse_qs(urlsplit(location).query)["code"][0]
    token_set = api.exchange_code(code, verifier)
    (tenant,) = [t for t in api.connections(token_set.access_token) if t.tenant_name == organisation]
    with database.unit_of_work() as session:
        grant = tokens.new_grant(settings, clock, connection.id, token_set)
        grant.tenant_id, grant.tenant_name, grant.xero_connection_id = (tenant.tenant_id, tenant.tenant_name,
                                                                         tenant.connection_id)
        session.add(grant)
        row = session.get(Connection, connection.id)
        assert row is not None
        connections.set_status(session, clock, settings, row.company, row, ConnectionStatus.LINKED)
    return company, connection, tenant.tenant_id


def feed(database: Database, clock: Clock, settings: Settings, http: httpx.Client, company: Company,
         connection: Connection, tenant_id: str, account_id: str = "acc-1", *, currency: str = "GBP",
         balance: Decimal = Decimal("100.00"), connect: bool = True) -> XeroFeed:
    """A source account fed into a new Xero bank account (a feed connection made at the sandbox)."""
    account = make_source_account(database, clock, connection, account_id, status="pending", currency=currency,
                                  balance=balance, account_number=f"40-{abs(hash(account_id)) % 10**8:08d}",
                                  account_name=f"Current {account_id}"[:30])
    api = XeroApi(settings, database, clock, http=http)
    access = tokens.access_for(database, clock, settings, api, connection.id)
    item = api.create_feed_connection(access, {
        "accountToken": f"tok-{uuid.uuid4().hex[:20]}", "accountNumber": account.account_number,
        "accountName": account.account_name, "accountType": "BANK", "currency": currency,
    }, idempotency_key=uuid.uuid4().hex)
    assert item.get("status") != "REJECTED", item
    feed_id = str(item["id"])
    with database.unit_of_work() as session:
        row = session.get(SourceAccount, account.id)
        conn = session.get(Connection, connection.id)
        assert row is not None and conn is not None
        row.feed_connection_id = feed_id
        if connect:
            source_accounts.mark_connected(session, clock, settings, conn.company, conn, row,
                                           feed_start_date=clock.now() - timedelta(days=30))
        else:
            row.status = SourceAccountStatus.CONNECTING  # mapped; Xero has not confirmed the feed yet
    return XeroFeed(company, connection, account, tenant_id, feed_id)


def linked_feed(database: Database, clock: FrozenClock, settings: Settings, http: httpx.Client,
                organisation: str = "Acme Trading Ltd") -> XeroFeed:
    company, connection, tenant = link(database, clock, settings, http, organisation)
    return feed(database, clock, settings, http, company, connection, tenant)


def txns(start: int, count: int, *, opening: Decimal = Decimal("100.00"), day: int = 20,
         amount: Decimal = Decimal("-12.50")) -> list[dict[str, Any]]:
    """``count`` chronological transactions with a consistent balance chain from ``opening``."""
    out = []
    balance = opening
    for n in range(start, start + count):
        balance += amount
        out.append({"id": f"t{n}", "date": f"2026-11-{day:02d}T10:{n % 60:02d}:00", "description": f"Card {n}",
                    "counterparty": "Corner Shop", "reference": f"REF{n}", "amount": amount, "balance": balance,
                    "transactionType": "Debit" if amount < 0 else "Credit"})
    return out


def push(client: TestClient, f: XeroFeed, transactions: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    r = post(client, write_url(f.company, f.connection, f.account.account_id),
             {"accountId": f.account.account_id, "transactions": transactions}, **params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


class Lanes:
    """The worker's Xero lanes, with every request they send held against Xero's specs."""

    def __init__(self, database: Database, settings: Settings, clock: FrozenClock, check: SpecCheck) -> None:
        self.http = checked_client(check, timeout=30)
        self.worker = Worker(database, settings, clock,
                             tasks=[deliver_statements(http=self.http, threads=4), check_feeds(http=self.http),
                                    confirm_feeds(http=self.http)])
        self.clock = clock

    def deliver(self, rounds: int = 20, step: timedelta = timedelta(seconds=6)) -> None:
        """Run the delivery lane, moving the clock past each poll interval, until nothing is left to do."""
        statements = self.worker.lanes[0]
        for _ in range(rounds):
            statements.run_once()
            self.clock.advance(step)

    def check_feeds(self) -> int:
        return self.worker.lanes[1].run_once()

    def confirm_feeds(self) -> None:
        self.worker.lanes[2].run_once()

    def close(self) -> None:
        self.worker.close()
        self.http.close()


def op_of(database: Database, key: str) -> PushOperation:
    with database.unit_of_work() as session:
        op = session.get(PushOperation, uuid.UUID(key))
        assert op is not None
        return op


def delivery_of(database: Database, key: str) -> StatementDelivery:
    with database.unit_of_work() as session:
        row = session.get(StatementDelivery, uuid.UUID(key))
        assert row is not None
        return row


def statements_at_xero(xero: XeroSandboxServer, tenant_id: str) -> list[dict[str, Any]]:
    """Every statement the sandbox holds for the organisation, oldest first, with its lines' ids."""
    with xero.database.unit_of_work() as session:
        rows = session.scalars(select(XeroSandboxStatement)
                               .where(XeroSandboxStatement.organisation_id == uuid.UUID(tenant_id))
                               .order_by(XeroSandboxStatement.received_at)).all()
        out = []
        for st in rows:
            lines = session.scalars(select(XeroSandboxStatementLine)
                                    .where(XeroSandboxStatementLine.statement_id == st.id)
                                    .order_by(XeroSandboxStatementLine.position)).all()
            out.append({"id": str(st.id), "status": st.status, "lines": [ln.transaction_id for ln in lines],
                        "end": (st.end_amount, st.end_indicator)})
        return out
