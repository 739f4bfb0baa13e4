"""What the demo bank does, in the order a bank's backend does it.

Connect to QuickBooks:
 1. register as a webhook consumer once (``POST /webhooks``) and keep the signing secret;
 2. create the customer's company (``POST /companies``), once;
 3. create its QuickBooks connection (``POST .../connections`` with ``hcws``), or reuse the live one;
 4. create the customer's accounts as source accounts (one batch call);
 5. get the connection (``GET .../connections/{id}``) for a linkUrl with a fresh one-time password
    and send the customer there.
Publish: book the day's new activity and send every account's unsent transactions
(``POST .../push/bankAccounts/{id}/bankTransactions``), oldest first, never older than what was sent.
Disconnect: ``DELETE .../connections/{id}``.

Hub calls never run inside a database transaction: state is read, the call is made, the result is
stored, each step in its own short unit of work, so a retry resumes where a failure stopped.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from bankfeeds.demo import seed
from bankfeeds.demo.hub_client import HttpFactory, HubClient, HubError, default_http
from bankfeeds.demo.repository import DemoRepository
from bankfeeds.errors import BadGateway, Conflict
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.models import DemoAccount, DemoCustomer, DemoTransaction, DemoWebhookEndpoint, DemoWebhookMessage
from bankfeeds.sandbox.vault import Vault

log = logging.getLogger("bankfeeds.demo")

WEBHOOK_PATH = "/demo/bank/webhooks"
EVENT_TYPES = [
    "connection.created", "connection.connected", "connection.failed", "connection.disconnected",
    "connection.reconnected", "connection.deleted", "bankFeeds.sourceAccount.connected",
    "bankFeeds.sourceAccount.disconnected", "bankTransactions.write.successful",
    "bankTransactions.write.unsuccessful",
]
# How far back each platform takes history (QuickBooks: a week; Xero: a year); one request carries
# at most 1000 transactions.
HISTORY_DAYS = {"hcws": 7, "gbol": 365}
PLATFORM_NAMES = {"hcws": "QuickBooks", "gbol": "Xero"}
BATCH_SIZE = 1000
NEW_PER_ACCOUNT = 2


@dataclass
class DemoBank:
    database: Database
    clock: Clock
    # The API key the bank's backend authenticates to the hub with, and the business customer shown
    # in online banking (``BANKFEEDS_DEMO_API_KEY``, ``BANKFEEDS_DEMO_CUSTOMER_NAME``).
    api_key: SecretStr | None
    customer_name: str
    # Where the bank's pages (and its webhook endpoint) are served, and where the hub is.
    public_url: str
    hub_url: str
    vault: Vault
    http: HttpFactory = field(default=default_http)

    @property
    def webhook_url(self) -> str:
        return self.public_url.rstrip("/") + WEBHOOK_PATH

    def client(self) -> HubClient:
        if self.api_key is None or not self.api_key.get_secret_value():
            raise Conflict("The demo bank has no API key for the hub. Set BANKFEEDS_DEMO_API_KEY to a key from "
                           "`bankfeeds api-keys create` (make run does this for you) and restart.")
        return HubClient(self.hub_url, self.api_key.get_secret_value(), self.http)


def secrets_vault(secret_key: str) -> Vault:
    return Vault(secret_key, purpose="demo-bank-webhook-secret")


def _hub_failed(what: str, exc: HubError) -> BadGateway:
    return BadGateway(f"The bank feeds hub refused to {what}: {exc.message}")


# -- reads ----------------------------------------------------------------------------------------
@dataclass
class AccountView:
    account: DemoAccount
    transactions: list[DemoTransaction]
    unsent: int
    # Of the unsent: those a Publish would send now, and those QuickBooks will never take (older
    # than its week of history, or than what the feed already holds).
    waiting: int = 0
    too_old: set[uuid.UUID] = field(default_factory=set)


# What a business customer reads, for the hub's connection statuses and the accounts' feed statuses.
PLAIN_STATUS = {
    "PendingAuth": "Waiting for you in QuickBooks",
    "Linked": "Connected",
    "Unlinked": "Not connected",
    "Deauthorized": "Disconnected",
    "Deleted": "Disconnected",
    "Disconnected": "Disconnected",
    "Cancelled": "Not connected",
}
PLAIN_ACCOUNT_STATUS = {
    "pending": "not chosen yet",
    "connected": "connected, sent every day",
    "disconnected": "disconnected, nothing is sent",
}


def status_words(status: str | None, app: str = "QuickBooks") -> str:
    if status == "PendingAuth":
        return f"Waiting for you in {app}"
    return PLAIN_STATUS.get(status or "", status or "Not connected")


def platform_of(customer: DemoCustomer) -> str:
    """The platform of the customer's feed (QuickBooks until one is chosen)."""
    return customer.hub_platform or "hcws"


def app_name(customer: DemoCustomer) -> str:
    return PLATFORM_NAMES[platform_of(customer)]


@dataclass
class Overview:
    customer: DemoCustomer
    accounts: list[AccountView]
    webhooks: list[DemoWebhookMessage]
    has_api_key: bool
    now: datetime


def ensure_customer(bank: DemoBank) -> None:
    with bank.database.unit_of_work() as session:
        seed.seed(session, bank.clock, bank.customer_name)


def overview(bank: DemoBank) -> Overview:
    ensure_customer(bank)
    with bank.database.unit_of_work() as session:
        repo = DemoRepository(session)
        customer = repo.customer(bank.customer_name)
        assert customer is not None
        today = bank.clock.now().date()
        views = []
        for a in repo.accounts(customer.id):
            unsent = repo.unpublished(a.id)
            sendable = {t.id for t in _sendable(unsent, repo.newest_published_day(a.id), today,
                                                HISTORY_DAYS[platform_of(customer)])}
            views.append(AccountView(a, repo.recent(a.id), len(unsent), waiting=len(sendable),
                                     too_old={t.id for t in unsent if t.id not in sendable and t.booked_on <= today}))
        return Overview(customer, views, repo.messages(), bank.api_key is not None, bank.clock.now())


def _customer(bank: DemoBank) -> DemoCustomer:
    ensure_customer(bank)
    with bank.database.unit_of_work() as session:
        customer = DemoRepository(session).customer(bank.customer_name)
        assert customer is not None
        return customer


# -- Connect to QuickBooks ------------------------------------------------------------------------
def ensure_webhook_consumer(bank: DemoBank, client: HubClient) -> None:
    """Subscribe the bank's webhook endpoint once; replace stale registrations whose secret we lost."""
    with bank.database.unit_of_work() as session:
        if DemoRepository(session).endpoint(bank.webhook_url) is not None:
            return
    try:
        for consumer in client.list_webhook_consumers():
            if consumer.get("url") == bank.webhook_url and consumer.get("id"):
                client.delete_webhook_consumer(str(consumer["id"]))
        created = client.create_webhook_consumer(bank.webhook_url, EVENT_TYPES)
    except HubError as exc:
        raise _hub_failed("register the bank's webhook endpoint", exc) from None
    secret = created.get("signingSecret")
    if not isinstance(secret, str) or not created.get("id"):
        raise BadGateway("The hub registered the webhook endpoint without giving its signing secret.")
    with bank.database.unit_of_work() as session:
        DemoRepository(session).add(DemoWebhookEndpoint(
            id=uuid.uuid4(), consumer_id=str(created["id"]), url=bank.webhook_url,
            signing_secret_encrypted=bank.vault.encrypt(secret), created_at=bank.clock.now()))


def _source_account(account: DemoAccount) -> dict[str, Any]:
    """Codat's SourceAccountV2 prototype for one of the customer's accounts."""
    return {
        "id": account.source_account_id,
        "accountName": account.name,
        "accountType": account.account_type,
        "accountNumber": account.account_number,
        "routingInfo": {"bankCode": account.routing_number, "type": "rtn"},
        "currency": account.currency,
        "balance": account.balance,
    }


def connect(bank: DemoBank, platform_key: str = "hcws") -> str:
    """Steps 1 to 5 above, for QuickBooks (``hcws``) or Xero (``gbol``); returns the linkUrl to send
    the customer to. A connection to the other platform is deleted first (one per company)."""
    client = bank.client()
    customer = _customer(bank)
    ensure_webhook_consumer(bank, client)
    try:
        company_id = str(customer.hub_company_id) if customer.hub_company_id else None
        if company_id and client.get_company(company_id) is None:
            company_id = None
        if company_id is None:
            company = client.create_company(customer.name, "Business customer of the demo bank")
            company_id = str(company["id"])
            _save(bank, hub_company_id=uuid.UUID(company_id), hub_connection_id=None)
        connection = None
        if customer.hub_connection_id and customer.hub_company_id and str(customer.hub_company_id) == company_id:
            connection = client.get_connection(company_id, str(customer.hub_connection_id))
            if connection is not None and connection.get("integrationKey") != platform_key:
                client.delete_connection(company_id, str(connection["id"]))
                connection = None
        if connection is None:
            connection = client.create_connection(company_id, platform_key)
            _save(bank, hub_connection_id=uuid.UUID(str(connection["id"])), hub_platform=platform_key,
                  reset_accounts=True)
        connection_id = str(connection["id"])

        with bank.database.unit_of_work() as session:
            accounts = DemoRepository(session).accounts(customer.id)
        pending = [a for a in accounts if not a.registered]
        if pending:
            results = client.create_source_accounts(company_id, connection_id, [_source_account(a) for a in pending])
            _register(bank, customer.id, results)
        fresh = client.get_connection(company_id, connection_id)
    except HubError as exc:
        raise _hub_failed("connect the customer to QuickBooks", exc) from None
    if fresh is None or not isinstance(fresh.get("linkUrl"), str):
        raise BadGateway("The hub did not return a linkUrl for the connection; try again.")
    return str(fresh["linkUrl"])


def _save(bank: DemoBank, *, reset_accounts: bool = False, **fields: Any) -> None:
    with bank.database.unit_of_work() as session:
        repo = DemoRepository(session)
        customer = repo.customer(bank.customer_name, for_update=True)
        assert customer is not None
        for name, value in fields.items():
            setattr(customer, name, value)
        if reset_accounts:
            customer.feed_status, customer.feed_status_at, customer.feed_message = None, None, None
            customer.feed_status_event = None
            for account in repo.accounts(customer.id):
                account.registered = False
                account.feed_status = None


def _register(bank: DemoBank, customer_id: uuid.UUID, results: list[dict[str, Any]]) -> None:
    failures = []
    with bank.database.unit_of_work() as session:
        repo = DemoRepository(session)
        for item in results:
            result = item.get("result") if isinstance(item, dict) else None
            source_id = str(item.get("sourceAccountId")) if isinstance(item, dict) else ""
            account = repo.account_by_source_id(customer_id, source_id)
            if account is None or not isinstance(result, dict):
                continue
            status = str(result.get("statusCode"))
            # 2xx: created; 409: it exists already on this connection (a retried call): both are fine.
            if status.startswith("2") or status == "409":
                account.registered = True
                created = result.get("account")
                if isinstance(created, dict) and isinstance(created.get("status"), str):
                    account.feed_status = created["status"]
            else:
                failures.append(f"{account.name}: {result.get('error') or status}")
    if failures:
        raise BadGateway("The hub refused some accounts: " + "; ".join(failures))


# -- Publish new transactions ---------------------------------------------------------------------
@dataclass
class PublishSummary:
    sent: int = 0
    skipped_accounts: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _wire(txn: DemoTransaction) -> dict[str, Any]:
    return {
        "id": str(txn.id),
        # A local date: Codat's QuickBooks "cleared on" date, sent without a zone.
        "date": f"{txn.booked_on.isoformat()}T00:00:00",
        "description": txn.description,
        "amount": txn.amount,
        "balance": txn.balance,
        "transactionType": "Credit" if txn.amount >= 0 else "Debit",
    }


def _sendable(txns: list[DemoTransaction], newest_sent: date | None, today: date,
              history_days: int) -> list[DemoTransaction]:
    """The platform's rules: chronological, no older than its history window (QuickBooks a week, Xero a
    year), never older than what was already sent."""
    floor = today - timedelta(days=history_days)
    if newest_sent is not None and newest_sent > floor:
        floor = newest_sent
    return [t for t in txns if floor <= t.booked_on <= today]


def publish(bank: DemoBank) -> PublishSummary:
    client = bank.client()
    customer = _customer(bank)
    if customer.hub_company_id is None or customer.hub_connection_id is None:
        raise Conflict("Connect to QuickBooks first: there is no bank feed to publish to.")
    company_id, connection_id = str(customer.hub_company_id), str(customer.hub_connection_id)
    today = bank.clock.now().date()
    # The day's new activity at the bank (a real bank's core system books these itself).
    with bank.database.unit_of_work() as session:
        repo = DemoRepository(session)
        for account in repo.accounts(customer.id):
            seed.book(session, bank.clock, account, today, NEW_PER_ACCOUNT)
    try:
        listed = client.list_source_accounts(company_id, connection_id)
        statuses = {str(a.get("id")): str(a.get("status")) for a in listed if isinstance(a, dict)}
    except HubError as exc:
        raise _hub_failed("list the customer's source accounts", exc) from None
    summary = PublishSummary()
    with bank.database.unit_of_work() as session:
        repo = DemoRepository(session)
        plans = []
        for account in repo.accounts(customer.id):
            account.feed_status = statuses.get(account.source_account_id, account.feed_status)
            if statuses.get(account.source_account_id) != "connected":
                summary.skipped_accounts.append(account.name)
                continue
            txns = _sendable(repo.unpublished(account.id), repo.newest_published_day(account.id), today,
                             HISTORY_DAYS[platform_of(customer)])
            if txns:
                plans.append((account.source_account_id, account.name, [t.id for t in txns],
                              [_wire(t) for t in txns]))
    for source_id, name, ids, wires in plans:
        for start in range(0, len(wires), BATCH_SIZE):
            chunk_ids, chunk = ids[start:start + BATCH_SIZE], wires[start:start + BATCH_SIZE]
            try:
                op = client.create_bank_transactions(company_id, connection_id, source_id, chunk)
            except HubError as exc:
                summary.failures.append(f"{name}: {exc.message}")
                break
            if op.get("status") == "Failed":
                errors = (op.get("validation") or {}).get("errors") or []
                detail = errors[0].get("message") if errors and isinstance(errors[0], dict) else op.get("errorMessage")
                summary.failures.append(f"{name}: {detail or 'the hub rejected the transactions'}")
                break
            _mark_sent(bank, chunk_ids, str(op.get("pushOperationKey") or ""))
            summary.sent += len(chunk)
    return summary


def _mark_sent(bank: DemoBank, ids: list[uuid.UUID], push_key: str) -> None:
    with bank.database.unit_of_work() as session:
        now = bank.clock.now()
        for txn in DemoRepository(session).transactions_by_id(ids):
            txn.published_at = now
            txn.push_operation_key = push_key[:64] or None


# -- Disconnect QuickBooks ------------------------------------------------------------------------
def disconnect(bank: DemoBank) -> None:
    client = bank.client()
    customer = _customer(bank)
    if customer.hub_company_id is None or customer.hub_connection_id is None:
        raise Conflict(f"There is no {app_name(customer)} connection to disconnect.")
    try:
        client.delete_connection(str(customer.hub_company_id), str(customer.hub_connection_id))
    except HubError as exc:
        raise _hub_failed("delete the connection", exc) from None
    _save(bank, hub_connection_id=None, reset_accounts=True)
    _save(bank, feed_status="Disconnected", feed_status_at=bank.clock.now(), feed_status_event="connection.deleted",
          feed_message="The bank removed the QuickBooks connection; QuickBooks can no longer download."
          if platform_of(customer) == "hcws" else "The bank removed the Xero connection; Xero gets no more statements.")

