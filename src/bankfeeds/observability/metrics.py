"""Prometheus metrics of the hub.

Counters and histograms live in the process that counts them; when ``PROMETHEUS_MULTIPROC_DIR``
is set (several ``serve``/``worker`` processes), prometheus-client writes them to files there and
``/metrics`` adds them up across processes. Gauges of the work waiting (backlog, webhook queue,
worker lag, feeds by status) are read from the database at scrape time, with cheap queries
(feed_health/repository.py), so every process answers the same.

Counts are taken when the transaction that did the work commits (``on_commit``): a rolled-back
write is never counted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, GCCollector, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.models import StatementDeliveryStatus

log = logging.getLogger("bankfeeds.worker")

REGISTRY = CollectorRegistry(auto_describe=True)
# The process's own figures, as a Python service exports them: CPU, memory, open files
# (``process_*``) and the garbage collector's collections by generation (``python_gc_*``: a
# serving process's oldest generation should barely move, ``kit/heap.py``). One process's only:
# with ``PROMETHEUS_MULTIPROC_DIR`` set, ``/metrics`` adds up the processes' files without them.
ProcessCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter(
    "bankfeeds_http_requests", "HTTP requests answered, by surface, route template, method and status.",
    ["surface", "route", "method", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram(
    "bankfeeds_http_request_duration_seconds", "Time to answer an HTTP request, by surface and route template.",
    ["surface", "route"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
TRANSACTIONS_ACCEPTED = Counter(
    "bankfeeds_transactions_accepted", "Bank transactions accepted by a push, by platform.", ["platform"],
    registry=REGISTRY)
TRANSACTIONS_DELIVERED = Counter(
    "bankfeeds_transactions_delivered",
    "Bank transactions handed to the platform (QuickBooks: returned by an IDX pull; Xero: in a delivered statement).",
    ["platform"], registry=REGISTRY)
IDX_PULLS = Counter("bankfeeds_idx_pulls", "IDX calls by QuickBooks, by what was read.", ["resource"],
                    registry=REGISTRY)
STATEMENTS = Counter("bankfeeds_statements", "Xero statements settled, by outcome (delivered, rejected).",
                     ["outcome"], registry=REGISTRY)
WEBHOOK_DELIVERIES = Counter("bankfeeds_webhook_deliveries", "Webhook delivery attempts, by outcome.",
                             ["outcome"], registry=REGISTRY)
JOBS = Counter("bankfeeds_worker_jobs", "Worker task passes that handled work, and the items they handled.",
               ["task"], registry=REGISTRY)


_ON_COMMIT = "bankfeeds.metrics.on_commit"


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction commits (never if it rolls back)."""
    session.info.setdefault(_ON_COMMIT, []).append(action)


# Class-wide listeners, registered once (a listener per session costs more than the counting).
@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    for action in session.info.pop(_ON_COMMIT, ()):
        action()


@event.listens_for(Session, "after_rollback")
def _forget_on_commit(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)


# ---------------------------------------------------------------- counted from what the ORM writes


def _count_flushed(session: Session, _flush_context: Any) -> None:
    """Webhook attempts recorded and statements settled, counted when their transaction commits
    (and, for a statement, one log line: the Xero delivery lane's job line)."""
    from bankfeeds.models import PushOperation, StatementDelivery, WebhookAttempt

    deliveries: list[str] = []
    statements: list[tuple[str, int]] = []
    settled: list[dict[str, Any]] = []
    for obj in session.new:
        if isinstance(obj, WebhookAttempt):
            deliveries.append("success" if obj.success else "failure")
    for obj in session.dirty:
        if isinstance(obj, StatementDelivery):
            history = inspect(obj).attrs.status.history
            final = (StatementDeliveryStatus.DELIVERED, StatementDeliveryStatus.REJECTED)
            if history.has_changes() and obj.status in final:
                n = 0
                if obj.status == StatementDeliveryStatus.DELIVERED:
                    with session.no_autoflush:
                        op = session.get(PushOperation, obj.push_operation_key)
                    n = op.transaction_count if op is not None else 0
                statements.append((obj.status, n))
                settled.append({"kind": "job", "job": "deliver_statements", "outcome": obj.status,
                                "push_operation_key": str(obj.push_operation_key),
                                "connection_id": str(obj.connection_id), "statement_id": obj.statement_id,
                                "attempts": obj.attempts, "transactions": n or None})
    if not deliveries and not statements:
        return

    def count() -> None:
        for outcome in deliveries:
            WEBHOOK_DELIVERIES.labels(outcome).inc()
        for outcome, transactions in statements:
            STATEMENTS.labels(outcome).inc()
            if transactions:
                TRANSACTIONS_DELIVERED.labels("gbol").inc(transactions)
        for fields in settled:
            log.info("statement %s", fields["outcome"], extra=fields)

    on_commit(session, count)


def install_listeners() -> None:
    if not event.contains(Session, "after_flush", _count_flushed):
        event.listen(Session, "after_flush", _count_flushed)


# ---------------------------------------------------------------- read at scrape time


class WorkWaiting(Collector):
    """Gauges read from the database when scraped."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from bankfeeds.feed_health.repository import FeedHealthRepository

        now = self.clock.now()
        backlog = GaugeMetricFamily("bankfeeds_backlog_transactions",
                                    "Transactions accepted and not yet pulled (QuickBooks) or delivered (Xero).",
                                    labels=["platform"])
        oldest = GaugeMetricFamily("bankfeeds_backlog_oldest_age_seconds",
                                   "Age of the oldest transaction of the backlog.", labels=["platform"])
        queue = GaugeMetricFamily("bankfeeds_webhook_queue_depth", "Webhook messages waiting to be delivered.")
        lag = GaugeMetricFamily("bankfeeds_worker_lag_seconds",
                                "How long the oldest due job has waited (0 when nothing is due).")
        feeds = GaugeMetricFamily("bankfeeds_feeds", "Source accounts by platform and status.",
                                  labels=["platform", "status"])
        with self.database.unit_of_work() as session:
            repo = FeedHealthRepository(session)
            for platform, (count, first) in sorted(repo.backlog_by_platform(now).items()):
                backlog.add_metric([platform], count)
                oldest.add_metric([platform], max(0.0, (now - first).total_seconds()) if first else 0.0)
            queue.add_metric([], repo.webhook_queue_depth())
            due = repo.oldest_due(now)
            lag.add_metric([], max(0.0, (now - due).total_seconds()) if due else 0.0)
            for platform, status, count in repo.feeds_by_status():
                feeds.add_metric([platform, status], count)
        yield from (backlog, oldest, queue, lag, feeds)


def exposition(database: Database, clock: Clock) -> bytes:
    """The text exposition of every metric: this process's (or all processes') and the gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    gauges = CollectorRegistry()
    gauges.register(WorkWaiting(database, clock))
    return text + generate_latest(gauges)
