"""/metrics after a scripted journey over real HTTP, parsed with prometheus_client's parser; the JSON
log lines of the same journey: a correlation id ties each request to the job lines it caused, and
no secret is ever written."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bankfeeds.config import Settings
from bankfeeds.kit import logging as structured
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import PushOperation, StatementDelivery
from bankfeeds.webhooks.tasks import deliver_messages, dispatch_events, purge_old_events
from bankfeeds.worker.runner import Worker
from tests.console.helpers import Receiver
from tests.fixtures.app import LiveServer, basic, make_settings
from tests.fixtures.factories import make_company, make_connection, make_linked_feed, make_source_account
from tests.idx.helpers import IDX, PARTNER_KEY, credentials_path, idx_headers

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Webhooks go to a receiver on 127.0.0.1: private targets allowed (issue 9 refuses them by default)."""
    return make_settings(db_url, webhooks_allow_private_targets=True)


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=60)  # what it answers, never how fast
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum over every series of ``name`` whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    structured.configure("json", stream=stream)
    yield stream
    logger = logging.getLogger("bankfeeds")
    for handler in list(logger.handlers):
        if handler.get_name() == "bankfeeds-structured":
            logger.removeHandler(handler)
    logger.propagate = True


def test_metrics_and_logs_after_a_journey(
    live_server: LiveServer, api_key: str, database: Database, clock: FrozenClock, settings: Settings,
    log_lines: io.StringIO,
) -> None:
    url = live_server.url
    receiver = Receiver()
    receiver.status = 200
    try:
        before = scrape(url)
        # The process's own figures: memory, and the collector's passes by generation.
        assert before[("process_resident_memory_bytes", ())] > 0
        assert {dict(labels)["generation"] for name, labels in before if name == "python_gc_collections_total"} == {"0", "1", "2"}
        api = httpx.Client(base_url=url, headers={"Authorization": basic(api_key)})
        consumer = api.post("/webhooks", json={"url": receiver.url, "eventTypes": ["company.created", "bankTransactions.write.successful"]})
        assert consumer.status_code == 201, consumer.text
        webhook_secret = consumer.json()["signingSecret"]

        # A company made over the API (its event goes out as a webhook), a QuickBooks feed written to
        # and pulled, and a push to the same feed that fails.
        created = api.post("/companies", json={"name": "Metrics Ltd"})
        assert created.status_code == 200, created.text
        company_cid = created.headers["x-correlation-id"]
        company_id = created.json()["id"]
        company, connection, _ = make_linked_feed(database, clock)
        push_url = (f"/companies/{company.id}/connections/{connection.id}/push/bankAccounts/acc-1/bankTransactions")
        txns = [{"id": f"t{i}", "date": f"2026-11-23T10:0{i}:00", "description": f"Payment {i}", "amount": 10,
                 "balance": 10 * i, "transactionType": "Credit"} for i in (1, 2, 3)]
        pushed = api.post(push_url, json={"accountId": "acc-1", "transactions": txns})
        assert pushed.status_code == 200 and pushed.json()["status"] == "Success", pushed.text
        push_cid = pushed.headers["x-correlation-id"]
        late = api.post(push_url, json={"accountId": "acc-1", "transactions": [
            {"id": "old", "date": "2026-11-01T10:00:00", "description": "Too old", "amount": 5, "balance": 35,
             "transactionType": "Credit"}]})
        assert late.json()["status"] == "Failed"
        pair = api.post(credentials_path(connection), content=b"{}", headers={"Content-Type": "application/json"})
        username, password = pair.json()["username"], pair.json()["password"]
        idx = httpx.Client(base_url=url, headers=idx_headers(username, password))
        assert idx.get(f"{IDX}/accounts").status_code == 200
        clock.advance(timedelta(minutes=1))
        pulled = idx.get(f"{IDX}/accounts/acc-1/transactions")
        assert pulled.status_code == 200 and len(pulled.json()["results"]) == 3, pulled.text
        # Two more written a minute after the pull: QuickBooks' backlog.
        clock.advance(timedelta(minutes=1))
        more = [{"id": f"t{i}", "date": f"2026-11-23T11:0{i}:00", "description": f"Payment {i}", "amount": 10,
                 "balance": 10 * i, "transactionType": "Credit"} for i in (4, 5)]
        assert api.post(push_url, json={"accountId": "acc-1", "transactions": more}).json()["status"] == "Success"
        assert api.get("/companies/not-a-company").status_code == 404

        # Xero: one statement delivered (4 transactions), one rejected, one still open (2 waiting).
        xero_company = make_company(database, clock, "Xero Metrics")
        xero_conn = make_connection(database, clock, xero_company, platform_key="gbol", status="Linked")
        xero_account = make_source_account(database, clock, xero_conn)
        keys = []
        with database.unit_of_work() as session:
            for count in (4, 1, 2):
                key = uuid.uuid4()
                keys.append(key)
                session.add(PushOperation(key=key, company_id=xero_company.id, connection_id=xero_conn.id,
                                          source_account_id="acc-1", status="Pending", status_code=202,
                                          requested_at=clock.now(), transaction_count=count, validation={}))
                session.flush()
                session.add(StatementDelivery(push_operation_key=key, connection_id=xero_conn.id,
                                              source_account_id=xero_account.id, status="sent",
                                              idempotency_key=key.hex, attempts=1,
                                              next_attempt_at=clock.now() + timedelta(minutes=5),
                                              created_at=clock.now()))
        # What the Xero delivery lane does when Xero answers (platforms/gbol/delivery.py).
        with database.unit_of_work() as session:
            for key, outcome in zip(keys[:2], ("delivered", "rejected"), strict=True):
                op = session.get(PushOperation, key)
                delivery = session.get(StatementDelivery, key)
                assert op is not None and delivery is not None
                delivery.status = outcome
                if outcome == "delivered":
                    delivery.delivered_at = clock.now()

        # Due work waits two minutes, then the worker runs: the webhooks go out.
        clock.advance(timedelta(minutes=2))
        mid = scrape(url)
        assert value(mid, "bankfeeds_worker_lag_seconds") >= 120
        assert value(mid, "bankfeeds_webhook_queue_depth") == 0  # not yet fanned out
        Worker(database, settings, clock, tasks=[dispatch_events, deliver_messages(), purge_old_events]).drain()
        after = scrape(url)
    finally:
        receiver.close()

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    # Requests by surface, route template and status, with latency histograms.
    assert delta("bankfeeds_http_requests_total", surface="api", route="/companies", method="POST",
                 status="200") == 1
    assert delta("bankfeeds_http_requests_total", surface="api", status="404") >= 1
    assert delta("bankfeeds_http_requests_total", surface="idx",
                 route="/partners/intuit/idx/accounts/{accountId}/transactions", status="200") == 1
    assert delta("bankfeeds_http_request_duration_seconds_count", surface="api",
                 route="/companies/{companyId}/connections/{connectionId}/push/bankAccounts/{accountId}"
                       "/bankTransactions") == 3
    assert delta("bankfeeds_http_request_duration_seconds_bucket", surface="api", route="/companies",
                 le="+Inf") == 1
    assert all("not-a-company" not in ls_value for (_, ls), _ in after.items() for _, ls_value in ls)
    # Business counters.
    assert delta("bankfeeds_transactions_accepted_total", platform="hcws") == 5
    assert delta("bankfeeds_transactions_delivered_total", platform="hcws") == 3
    assert delta("bankfeeds_transactions_delivered_total", platform="gbol") == 4
    assert delta("bankfeeds_idx_pulls_total", resource="transactions") == 1
    assert delta("bankfeeds_idx_pulls_total", resource="accounts") == 1
    assert delta("bankfeeds_statements_total", outcome="delivered") == 1
    assert delta("bankfeeds_statements_total", outcome="rejected") == 1
    assert delta("bankfeeds_webhook_deliveries_total", outcome="success") >= 3
    assert delta("bankfeeds_worker_jobs_total", task="dispatch_webhook_events") >= 3
    # Gauges read at scrape time.
    assert value(after, "bankfeeds_backlog_transactions", platform="hcws") == 2
    assert value(after, "bankfeeds_backlog_transactions", platform="gbol") == 2
    assert value(after, "bankfeeds_backlog_oldest_age_seconds", platform="hcws") == 120
    assert value(after, "bankfeeds_webhook_queue_depth") == 0
    assert value(after, "bankfeeds_worker_lag_seconds") == 0
    assert value(after, "bankfeeds_feeds", platform="hcws", status="connected") == 1
    assert value(after, "bankfeeds_feeds", platform="gbol", status="connected") == 1

    # The log: one JSON object per line.
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines() if line.strip()]
    requests = [line for line in lines if line.get("kind") == "request"]
    jobs = [line for line in lines if line.get("kind") == "job"]
    assert requests and jobs
    for line in requests:
        assert {"ts", "level", "message", "correlationId", "surface", "route", "status", "duration_ms"} <= set(line)
    [create_line] = [r for r in requests if r["route"] == "/companies" and r["method"] == "POST"]
    assert create_line["correlationId"] == company_cid
    [push_line] = [r for r in requests if r["correlationId"] == push_cid]
    assert push_line["company_id"] == str(company.id) and push_line["connection_id"] == str(connection.id)
    # The jobs each request caused carry its correlation id: fan-out, then delivery.
    for cid, event_type in ((company_cid, "company.created"), (push_cid, "bankTransactions.write.successful")):
        caused = [j for j in jobs if j.get("correlationId") == cid]
        dispatched = [j for j in caused if j["job"] == "dispatch_webhook_events"]
        assert [j["event_type"] for j in dispatched] == [event_type], caused
        assert any(j["job"] == "deliver_webhook_messages" and j["status"] == 200 for j in caused), caused
    assert any(j.get("company_id") == company_id for j in jobs)
    # Never a secret.
    text = log_lines.getvalue()
    for secret in (api_key, webhook_secret, password, PARTNER_KEY, settings.secret_key, basic(api_key)):
        assert secret not in text
    assert "Authorization" not in text and "authorization" not in text
