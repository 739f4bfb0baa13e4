"""The outbox side of webhooks: record an event in the caller's transaction.

A rolled-back change removes its events with it; a committed one always has them. Delivery
(fan-out to consumers, signing, retries) is the worker's job, in ``webhooks/tasks.py``; the
commit wakes it (``worker.signals``) so it does not wait for its next poll, but only when an
enabled consumer subscribes to the event: a commit nobody listens to costs the worker nothing
(its next poll marks such events dispatched). Which consumers subscribe to what is read at most
once a second per process and database, and again after a commit in this process that changed
consumers; a consumer added by another process within that second has its first events
delivered at the worker's next poll instead of at once (nothing is lost: the fan-out reads the
consumers themselves).
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections.abc import Sequence
from typing import Any, Literal, overload

from sqlalchemy import event, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from bankfeeds.kit import logging as structured_logging
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.jsonutil import format_datetime
from bankfeeds.models import Company, EventType, WebhookConsumer
from bankfeeds.webhooks.repository import insert_event
from bankfeeds.webhooks.schemas import (
    CompanyPayload,
    ConnectionPayload,
    DataTypeWritePayload,
    ReferenceCompany,
    SourceAccountPayload,
)
from bankfeeds.worker import signals

# ``worker.signals`` topics: new outbox events (to fan out), messages due (to deliver).
EVENTS_TOPIC = "webhook-events"
MESSAGES_TOPIC = "webhook-messages"

# The event types a consumer can subscribe to (Codat's names).
EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)

# The event types of each payload model.
CompanyEventType = Literal[EventType.COMPANY_CREATED, EventType.COMPANY_DELETED]
ConnectionEventType = Literal[
    EventType.CONNECTION_CREATED,
    EventType.CONNECTION_CONNECTED,
    EventType.CONNECTION_FAILED,
    EventType.CONNECTION_DISCONNECTED,
    EventType.CONNECTION_RECONNECTED,
    EventType.CONNECTION_DELETED,
]
SourceAccountEventType = Literal[EventType.SOURCE_ACCOUNT_CONNECTED, EventType.SOURCE_ACCOUNT_DISCONNECTED]
WriteEventType = Literal[EventType.WRITE_SUCCESSFUL, EventType.WRITE_UNSUCCESSFUL]

EventPayload = CompanyPayload | ConnectionPayload | SourceAccountPayload | DataTypeWritePayload


def reference_company(company: Company, public_url: str) -> ReferenceCompany:
    return {
        "id": str(company.id),
        "name": company.name,
        "description": company.description,
        "links": {"portal": f"{public_url.rstrip('/')}/companies/{company.id}"},
        "tags": dict(company.tags or {}),
    }


# One signature per payload model (as Polar's webhook service overloads ``send``): the payload
# must be the model of its event type.
@overload
def record(
    session: Session, clock: Clock, event_type: CompanyEventType, payload: CompanyPayload, *,
    company: Company | None = None,
) -> None: ...
@overload
def record(
    session: Session, clock: Clock, event_type: ConnectionEventType, payload: ConnectionPayload, *,
    company: Company | None = None,
) -> None: ...
@overload
def record(
    session: Session, clock: Clock, event_type: SourceAccountEventType, payload: SourceAccountPayload, *,
    company: Company | None = None,
) -> None: ...
@overload
def record(
    session: Session, clock: Clock, event_type: WriteEventType, payload: DataTypeWritePayload, *,
    company: Company | None = None,
) -> None: ...
def record(
    session: Session,
    clock: Clock,
    event_type: EventType,
    payload: EventPayload,
    *,
    company: Company | None = None,
) -> None:
    """Add an event in Codat's envelope to the current transaction."""
    event_id = uuid.uuid4()
    now = clock.now()
    body = {
        "id": str(event_id),
        "eventType": event_type,
        "generatedDate": format_datetime(now),
        "payload": payload,
    }
    company_tags = dict(company.tags or {}) if company is not None else {}
    insert_event(session, {
        "id": event_id,
        "event_type": event_type,
        "company_id": company.id if company is not None else None,
        "company_tags": company_tags,
        "body": body,
        "created_at": now,
        "dispatched_at": None,
        "correlation_id": structured_logging.correlation_id(),
    })
    if anyone_subscribes(session, event_type, company_tags):
        signals.mark(session, EVENTS_TOPIC)


def matches(
    event_types: Sequence[str], tag_filter: Sequence[str] | None, event_type: str, company_tags: dict[str, Any] | None
) -> bool:
    """A subscription (event types, optional ``key:value`` company tags) takes this event."""
    if event_type not in event_types:
        return False
    if not tag_filter:
        return True
    tags = company_tags or {}
    for entry in tag_filter:
        key, _, value = entry.partition(":")
        if key in tags and str(tags[key]) == value:
            return True
    return False


# What the enabled consumers subscribe to, per database (engine): (read at, subscriptions).
SUBSCRIPTIONS_TTL = 1.0
_subscriptions: weakref.WeakKeyDictionary[Engine | Connection, tuple[float, list[tuple[list[str], list[str] | None]]]]
_subscriptions = weakref.WeakKeyDictionary()
_subscriptions_lock = threading.Lock()
_CHANGED = "bankfeeds.webhook_subscriptions_changed"


def anyone_subscribes(session: Session, event_type: str, company_tags: dict[str, Any] | None) -> bool:
    bind = session.get_bind()
    with _subscriptions_lock:
        hit = _subscriptions.get(bind)
    if hit is None or time.monotonic() - hit[0] >= SUBSCRIPTIONS_TTL:
        with session.no_autoflush:
            rows = session.execute(
                select(WebhookConsumer.event_types, WebhookConsumer.company_tags)
                .where(WebhookConsumer.disabled.is_(False))
            ).all()
        hit = (time.monotonic(), [(list(types or []), tags) for types, tags in rows])
        with _subscriptions_lock:
            _subscriptions[bind] = hit
    return any(matches(types, tags, event_type, company_tags) for types, tags in hit[1])


def subscriptions_changed(session: Session) -> None:
    """Consumers changed in this transaction: read the subscriptions again once it commits."""
    session.info[_CHANGED] = True


def forget_subscriptions() -> None:
    """Read the subscriptions again at the next event (consumers changed behind the services' back)."""
    with _subscriptions_lock:
        _subscriptions.clear()


@event.listens_for(Session, "after_commit")
def _forget_subscriptions(session: Session) -> None:
    if session.info.pop(_CHANGED, None):
        forget_subscriptions()


@event.listens_for(Session, "after_rollback")
def _keep_subscriptions(session: Session) -> None:
    session.info.pop(_CHANGED, None)

