"""Webhook consumers, their messages, recovery, and the fan-out of outbox events.

For other parts of bankfeeds (the demo bank, scripts) the entry points are ``add`` (a consumer
and its ``whsec_`` secret) and ``secret_of`` (the secret of an existing one).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.errors import BadRequest, NotFound
from bankfeeds.kit import inputs, netguard
from bankfeeds.kit.clock import Clock
from bankfeeds.models import Event, WebhookAttempt, WebhookConsumer, WebhookMessage
from bankfeeds.models.webhook_message import WebhookMessageStatus
from bankfeeds.webhooks import events, signing
from bankfeeds.webhooks.config import MAX_CONSUMERS, PREVIOUS_SECRET_TTL, REPLAY_WINDOW, RETENTION
from bankfeeds.webhooks.events import EVENT_TYPES, MESSAGES_TOPIC
from bankfeeds.webhooks.repository import WebhookRepository
from bankfeeds.webhooks.schemas import AttemptOut, MessageOut, WebhookConsumerOut, WebhookConsumerPrototype
from bankfeeds.worker import signals

log = logging.getLogger("bankfeeds.webhooks")

MAX_TAGS = 10
MAX_TAG_LENGTH = 128


# Validation


def check_url(url: Any, *, allow_private: bool = False) -> str:
    if not isinstance(url, str) or not url.strip():
        raise BadRequest("url is required: the absolute http(s) URL that receives the webhooks.")
    cleaned: str = url.strip()
    try:
        parts = urlsplit(cleaned)
        scheme, host, _port = parts.scheme, parts.hostname, parts.port
    except ValueError:  # a malformed host or port
        scheme, host = "", None
    if scheme not in ("http", "https") or not host or len(cleaned) > 2048 or any(c.isspace() for c in cleaned):
        raise BadRequest(f"url must be an absolute http or https URL of at most 2048 characters, not '{cleaned}'.")
    try:
        netguard.check_url(cleaned, allow_private=allow_private)
    except netguard.TargetRefused as exc:
        raise BadRequest(
            f"url is refused: {exc} Webhooks are delivered only to public addresses (set "
            "BANKFEEDS_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true for a receiver on a private network)."
        ) from None
    return cleaned


def check_event_types(event_types: Any) -> list[str]:
    if not event_types:
        raise BadRequest("eventTypes must list at least one event type; supported: " + ", ".join(EVENT_TYPES))
    unknown = [t for t in event_types if t not in EVENT_TYPES]
    if unknown:
        raise BadRequest(
            f"Unknown event type(s): {', '.join(map(str, unknown))}; supported: {', '.join(EVENT_TYPES)}"
        )
    return list(dict.fromkeys(event_types))


def check_company_tags(tags: Sequence[str] | None) -> list[str] | None:
    if tags is None:
        return None
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"companyTags takes at most {MAX_TAGS} entries.")
    for tag in tags:
        key, sep, _ = tag.partition(":")
        if not sep or not key or len(tag) > MAX_TAG_LENGTH:
            raise BadRequest(
                f"Each company tag must be 'tagKey:tagValue' of at most {MAX_TAG_LENGTH} characters, not '{tag}'."
            )
    return list(dict.fromkeys(tags))


# Consumers


def to_wire(consumer: WebhookConsumer) -> WebhookConsumerOut:
    return WebhookConsumerOut(
        id=str(consumer.id),
        url=consumer.url,
        disabled=consumer.disabled,
        event_types=list(consumer.event_types),
        company_tags=list(consumer.company_tags) if consumer.company_tags is not None else None,
    )


def get(session: Session, consumer_id: uuid.UUID, *, for_update: bool = False) -> WebhookConsumer:
    consumer = WebhookRepository(session).consumer(consumer_id, for_update=for_update)
    if consumer is None:
        raise NotFound(f"No webhook consumer was found with ID {consumer_id}")
    return consumer


def list_consumers(session: Session) -> list[WebhookConsumer]:
    return WebhookRepository(session).consumers()


def create(
    session: Session, clock: Clock, settings: Settings, body: WebhookConsumerPrototype
) -> tuple[WebhookConsumer, str]:
    return add(
        session, clock, settings, body.url, body.event_types,
        company_tags=body.company_tags, disabled=bool(body.disabled),
    )


def add(
    session: Session,
    clock: Clock,
    settings: Settings,
    url: Any,
    event_types: Any,
    *,
    company_tags: Sequence[str] | None = None,
    disabled: bool = False,
) -> tuple[WebhookConsumer, str]:
    """A new consumer and its signing secret (returned once; stored encrypted)."""
    url = check_url(url, allow_private=settings.allow_private_webhook_targets)
    types = check_event_types(event_types)
    tags = check_company_tags(company_tags)
    repo = WebhookRepository(session)
    if repo.count_consumers() >= MAX_CONSUMERS:
        raise BadRequest(f"The limit of {MAX_CONSUMERS} webhook consumers is reached; delete one first.")
    secret = signing.new_secret()
    now = clock.now()
    consumer = repo.add(
        WebhookConsumer(
            id=uuid.uuid4(), url=url, disabled=disabled, disabled_reason="manual" if disabled else None,
            disabled_at=now if disabled else None, event_types=types, company_tags=tags,
            secret_encrypted=signing.encrypt(settings.secret_key, secret), created_at=now, updated_at=now,
        )
    )
    events.subscriptions_changed(session)
    return consumer, secret


def secret_of(settings: Settings, consumer: WebhookConsumer) -> str:
    """The consumer's current signing secret (for a receiver this deployment runs, like the demo bank)."""
    return signing.decrypt(settings.secret_key, consumer.secret_encrypted)


def signing_tokens(
    secret_encrypted: str, previous_encrypted: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """The encrypted secrets that sign a message now: the current one, and the previous one while it lasts."""
    out = [secret_encrypted]
    if previous_encrypted and previous_expires_at and previous_expires_at > now:
        out.append(previous_encrypted)
    return out


def rotate_secret(
    session: Session, clock: Clock, settings: Settings, consumer: WebhookConsumer
) -> tuple[str, datetime]:
    """A new secret; the old one keeps signing (a second signature) for 24 hours."""
    now = clock.now()
    secret = signing.new_secret()
    consumer.previous_secret_encrypted = consumer.secret_encrypted
    consumer.previous_secret_expires_at = now + PREVIOUS_SECRET_TTL
    consumer.secret_encrypted = signing.encrypt(settings.secret_key, secret)
    consumer.updated_at = now
    session.flush()
    return secret, consumer.previous_secret_expires_at


def delete(session: Session, consumer: WebhookConsumer) -> None:
    """The consumer goes, and with it its messages and their pending retries."""
    WebhookRepository(session).delete_consumer(consumer)
    events.subscriptions_changed(session)


def disable(session: Session, clock: Clock, consumer: WebhookConsumer) -> WebhookConsumer:
    """Nothing is sent to it until it is enabled again; pending messages wait."""
    if not consumer.disabled:
        now = clock.now()
        consumer.disabled = True
        consumer.disabled_reason = "manual"
        consumer.disabled_at = now
        consumer.updated_at = now
        session.flush()
        events.subscriptions_changed(session)
    return consumer


def enable(session: Session, clock: Clock, consumer: WebhookConsumer) -> WebhookConsumer:
    """Enable it again: its pending messages (retries held while disabled) are due at once."""
    now = clock.now()
    if consumer.disabled:
        consumer.disabled = False
        consumer.disabled_reason = None
        consumer.disabled_at = None
        consumer.failing_since = None
        consumer.updated_at = now
        session.flush()
    events.subscriptions_changed(session)
    if WebhookRepository(session).make_pending_due(consumer.id, now):
        signals.mark(session, MESSAGES_TOPIC)
    return consumer


# Messages and attempts


def message_to_wire(message: WebhookMessage) -> MessageOut:
    return MessageOut(
        id=message.id, event_id=str(message.event_id), event_type=message.event_type, status=message.status,
        attempts=message.attempts, trigger=message.trigger, next_attempt=message.next_attempt_at,
        created=message.created_at, last_attempt=message.last_attempt_at, delivered=message.delivered_at,
    )


def attempt_to_wire(attempt: WebhookAttempt) -> AttemptOut:
    return AttemptOut(
        id=str(attempt.id), message_id=attempt.message_id, attempted=attempt.attempted_at, url=attempt.url,
        status_code=attempt.status_code, success=attempt.success, latency_ms=attempt.latency_ms,
        response=attempt.response, error=attempt.error, trigger=attempt.trigger,
    )


STATUSES = tuple(WebhookMessageStatus)


def messages(
    session: Session, consumer: WebhookConsumer, *, status: str | None = None,
    since: datetime | None = None, limit: int = 100,
) -> list[WebhookMessage]:
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}.")
    if not 1 <= limit <= 1000:
        raise BadRequest("limit must be between 1 and 1000.")
    if since is not None:
        since = inputs.in_range(since, "since")  # a date-time without a zone is UTC
    return WebhookRepository(session).messages(consumer.id, status=status, since=since, limit=limit)


def get_message(
    session: Session, consumer: WebhookConsumer, message_id: str, *, for_update: bool = False
) -> WebhookMessage:
    message = WebhookRepository(session).message(consumer.id, message_id, for_update=for_update)
    if message is None:
        raise NotFound(f"No message {message_id} was found for webhook consumer {consumer.id}")
    return message


def attempts(session: Session, consumer: WebhookConsumer, message_id: str) -> list[WebhookAttempt]:
    return WebhookRepository(session).attempts(get_message(session, consumer, message_id).id)


def _requeue(message: WebhookMessage, now: datetime, trigger: str) -> None:
    message.status = WebhookMessageStatus.SENDING
    message.attempts = 0
    message.next_attempt_at = now
    message.trigger = trigger


def resend(session: Session, clock: Clock, consumer: WebhookConsumer, message_id: str) -> WebhookMessage:
    """Send one message again (whatever its state), same ``webhook-id``, on a fresh schedule."""
    message = get_message(session, consumer, message_id, for_update=True)
    _requeue(message, clock.now(), "resend")
    signals.mark(session, MESSAGES_TOPIC)
    return message


def recover(session: Session, clock: Clock, consumer: WebhookConsumer, since: datetime) -> int:
    """Send again every message that failed for good since ``since``."""
    now = clock.now()
    if since > now:
        raise BadRequest("since must not be in the future.")
    failed = WebhookRepository(session).failed_since(consumer.id, since)
    for message in failed:
        _requeue(message, now, "recover")
    if failed:
        signals.mark(session, MESSAGES_TOPIC)
    return len(failed)


def replay_missing(session: Session, clock: Clock, consumer: WebhookConsumer, since: datetime) -> int:
    """Queue the events of the last 14 days that this consumer subscribes to but never got.

    Events are kept whether or not a consumer existed (or was enabled) when they happened.
    """
    now = clock.now()
    if since < now - REPLAY_WINDOW:
        raise BadRequest(f"since must be within the last {REPLAY_WINDOW.days} days.")
    if since > now:
        raise BadRequest("since must not be in the future.")
    repo = WebhookRepository(session)
    have = repo.event_ids_with_message(consumer.id, since)
    missing = [
        e for e in repo.events_since(since, consumer.event_types)
        if e.id not in have and subscribed(consumer, e.event_type, e.company_tags)
    ]
    repo.add_messages([_message(consumer, e, now, "replay") for e in missing])
    if missing:
        signals.mark(session, MESSAGES_TOPIC)
    return len(missing)


# The fan-out


def subscribed(consumer: WebhookConsumer, event_type: str, company_tags: dict[str, Any] | None) -> bool:
    """Its event types include this one and, if it filters on company tags, one of them matches."""
    return events.matches(consumer.event_types, consumer.company_tags, event_type, company_tags)


def _message(consumer: WebhookConsumer, event: Event, now: datetime, trigger: str) -> WebhookMessage:
    return WebhookMessage(
        id=signing.new_message_id(), consumer_id=consumer.id, event_id=event.id, event_type=event.event_type,
        status=WebhookMessageStatus.SENDING, attempts=0, next_attempt_at=now, trigger=trigger, created_at=now,
    )


def dispatch_events(session: Session, clock: Clock, limit: int) -> int:
    """Turn outbox events into one message per subscribed, enabled consumer. Returns events handled."""
    repo = WebhookRepository(session)
    now = clock.now()
    consumers = repo.enabled_consumers()
    if not consumers:
        # Nobody to tell (a hub whose bank reads push results by polling): the events are marked
        # in one statement, none read (a push per card swipe made the worker read each one).
        return repo.mark_undispatched(limit, now)
    events = repo.undispatched_events(limit)
    if not events:
        return 0
    rows = [
        {"id": signing.new_message_id(), "consumer_id": c.id, "event_id": e.id, "event_type": e.event_type,
         "status": WebhookMessageStatus.SENDING, "attempts": 0, "next_attempt_at": now, "trigger": "event",
         "created_at": now}
        for e in events
        for c in consumers
        if c.created_at <= e.created_at and subscribed(c, e.event_type, e.company_tags)
    ]
    repo.insert_messages(rows)
    repo.mark_dispatched([e.seq for e in events], now)
    per_event = Counter(r["event_id"] for r in rows)
    for e in events:
        if not per_event[e.id]:
            # No consumer takes it: nothing to trace from the request to a delivery (a push per card
            # swipe would otherwise log a second line saying so).
            continue
        log.info("webhook event dispatched", extra={
            "correlation_id": e.correlation_id, "kind": "job", "job": "dispatch_webhook_events",
            "event_id": str(e.id), "event_type": e.event_type,
            "company_id": str(e.company_id) if e.company_id else None,
            "messages": per_event[e.id]})
    if rows:
        signals.mark(session, MESSAGES_TOPIC)
    return len(events)


def purge_old_events(session: Session, clock: Clock, limit: int = 1000) -> int:
    """Forget events older than the retention period (30 days, beyond the 14-day replay window),
    with their messages and attempts, once none of their messages is still pending."""
    return WebhookRepository(session).purge_events_before(clock.now() - RETENTION, limit)


def pending_counts(session: Session) -> dict[uuid.UUID, dict[str, int]]:
    return WebhookRepository(session).pending_counts()

