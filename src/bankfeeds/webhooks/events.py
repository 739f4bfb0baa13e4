"""The outbox side of webhooks: record an event in the caller's transaction.

A rolled-back change removes its events with it; a committed one always has them. Delivery
(fan-out to consumers, signing, retries) is the worker's job, in ``webhooks/tasks.py``; the
commit wakes it (``worker.signals``) so it does not wait for its next poll.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from bankfeeds.kit import logging as structured_logging
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.jsonutil import format_datetime
from bankfeeds.models import Company, Event
from bankfeeds.worker import signals

# ``worker.signals`` topics: new outbox events (to fan out), messages due (to deliver).
EVENTS_TOPIC = "webhook-events"
MESSAGES_TOPIC = "webhook-messages"

# The event types a consumer can subscribe to (Codat's names).
EVENT_TYPES: tuple[str, ...] = (
    "company.created",
    "company.deleted",
    "connection.created",
    "connection.connected",
    "connection.failed",
    "connection.disconnected",
    "connection.reconnected",
    "connection.deleted",
    "bankFeeds.sourceAccount.connected",
    "bankFeeds.sourceAccount.disconnected",
    "bankTransactions.write.successful",
    "bankTransactions.write.unsuccessful",
)


def reference_company(company: Company, public_url: str) -> dict[str, Any]:
    return {
        "id": str(company.id),
        "name": company.name,
        "description": company.description,
        "links": {"portal": f"{public_url.rstrip('/')}/companies/{company.id}"},
        "tags": dict(company.tags or {}),
    }


def record(
    session: Session,
    clock: Clock,
    event_type: str,
    payload: dict[str, Any],
    *,
    company: Company | None = None,
) -> Event:
    """Add an event in Codat's envelope to the current transaction."""
    event_id = uuid.uuid4()
    now = clock.now()
    body = {
        "id": str(event_id),
        "eventType": event_type,
        "generatedDate": format_datetime(now),
        "payload": payload,
    }
    event = Event(
        id=event_id,
        event_type=event_type,
        company_id=company.id if company is not None else None,
        company_tags=dict(company.tags or {}) if company is not None else {},
        body=body,
        created_at=now,
        correlation_id=structured_logging.correlation_id(),
    )
    session.add(event)
    signals.mark(session, EVENTS_TOPIC)
    return event

