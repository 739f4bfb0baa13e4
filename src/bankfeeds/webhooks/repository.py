"""All SQL of webhooks: consumers, the outbox fan-out, message claims and attempts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, Text, bindparam, delete, func, insert, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from bankfeeds.kit.driver_sql import DriverStatement
from bankfeeds.kit.repository import Repository
from bankfeeds.models import Event, WebhookAttempt, WebhookConsumer, WebhookMessage
from bankfeeds.models.webhook_message import PENDING_MESSAGE_STATUSES, WebhookMessageStatus

PENDING = PENDING_MESSAGE_STATUSES


@dataclass(frozen=True)
class ClaimedRow:
    """A claimed message as plain values (no ORM object): what one delivery attempt needs."""

    message_id: str
    consumer_id: uuid.UUID
    event_id: uuid.UUID
    trigger: str
    url: str
    secret_encrypted: str
    previous_secret_encrypted: str | None
    previous_secret_expires_at: datetime | None
    consumer_failing: bool  # at claim time: a success must clear its failing_since
    body: str  # the event's JSON text
    correlation_id: str | None


@dataclass(frozen=True)
class OutboxEvent:
    """An event waiting for its fan-out, as plain values."""

    seq: int
    id: uuid.UUID
    event_type: str
    company_id: uuid.UUID | None
    company_tags: dict[str, Any] | None
    created_at: datetime
    correlation_id: str | None


@dataclass(frozen=True)
class Held:
    """A message the worker still holds when it records an attempt (locked until the commit)."""

    message_id: str
    attempts: int


_M = cast(Table, WebhookMessage.__table__)
_E = cast(Table, Event.__table__)
_A = cast(Table, WebhookAttempt.__table__)

# Executemany statements of the settle step, built once.
_SUCCEEDED = (
    update(_M)
    .where(_M.c.id == bindparam("m_id"))
    .values(status=WebhookMessageStatus.SUCCESS, next_attempt_at=None, delivered_at=bindparam("m_now"), locked_by=None,
            locked_until=None, last_attempt_at=bindparam("m_at"))
)
_FAILED = (
    update(_M)
    .where(_M.c.id == bindparam("m_id"))
    .values(status=bindparam("m_status"), attempts=bindparam("m_attempts"), next_attempt_at=bindparam("m_next"),
            locked_by=None, locked_until=None, last_attempt_at=bindparam("m_at"))
)


# The claim, built once (its parameters: now, blocked consumers, how many rows to read).
_CLAIM = (
    select(_M.c.id, _M.c.consumer_id, _M.c.event_id, _M.c.trigger, WebhookConsumer.url,
           WebhookConsumer.secret_encrypted, WebhookConsumer.previous_secret_encrypted,
           WebhookConsumer.previous_secret_expires_at, WebhookConsumer.failing_since.is_not(None),
           # The body as stored: JSON (not JSONB) keeps the text the engine's serialiser
           # (``jsonutil.dumps``) wrote, the very bytes to send; no decoding and encoding again.
           sql_cast(Event.body, Text).label("body_text"), Event.correlation_id)
    .join(WebhookConsumer, WebhookConsumer.id == _M.c.consumer_id)
    .join(Event, Event.id == _M.c.event_id)
    .where(
        _M.c.next_attempt_at <= bindparam("now"),
        or_(_M.c.locked_until.is_(None), _M.c.locked_until < bindparam("now")),
        WebhookConsumer.disabled.is_(False),
        _M.c.consumer_id.not_in(bindparam("blocked", expanding=True)),
    )
    .order_by(_M.c.next_attempt_at)
    .limit(bindparam("lim"))
)
# PostgreSQL: rows another worker is claiming are skipped. NO KEY UPDATE: it does not wait for
# (or skip rows behind) the KEY SHARE locks that inserting attempts takes through their foreign key.
_CLAIM_LOCKED = _CLAIM.with_for_update(skip_locked=True, key_share=True, of=_M)


# Every column of an event but its sequence number, which the database assigns.
_EVENT_COLUMNS = tuple(c.name for c in _E.columns if c.name != "seq")
_INSERT_EVENT = DriverStatement.insert(_E, _EVENT_COLUMNS)


def insert_event(session: Session, values: Mapping[str, Any]) -> None:
    """Write an outbox event (``values`` by column, every column but ``seq``) now, in the session's
    transaction, by one compiled INSERT: no ORM instance, no unit-of-work flush (a push records one
    on its hot path)."""
    _INSERT_EVENT.execute(session, values)


class WebhookRepository(Repository[WebhookConsumer]):
    model = WebhookConsumer

    @property
    def _skip_locked(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    # Consumers

    def consumers(self) -> list[WebhookConsumer]:
        stmt = select(WebhookConsumer).order_by(WebhookConsumer.created_at, WebhookConsumer.id)
        return list(self.session.scalars(stmt))

    def count_consumers(self) -> int:
        return self.session.scalar(select(func.count()).select_from(WebhookConsumer)) or 0

    def consumer(self, consumer_id: uuid.UUID, *, for_update: bool = False) -> WebhookConsumer | None:
        return self.one(select(WebhookConsumer).where(WebhookConsumer.id == consumer_id), for_update=for_update)

    def enabled_consumers(self) -> list[WebhookConsumer]:
        stmt = select(WebhookConsumer).where(WebhookConsumer.disabled.is_(False))
        return list(self.session.scalars(stmt))

    def delete_consumer(self, consumer: WebhookConsumer) -> None:
        # Its messages and attempts go with it (ON DELETE CASCADE): pending retries are dropped.
        self.session.execute(delete(WebhookAttempt).where(WebhookAttempt.consumer_id == consumer.id))
        self.session.execute(delete(WebhookMessage).where(WebhookMessage.consumer_id == consumer.id))
        self.session.delete(consumer)
        self.session.flush()

    # The outbox

    def undispatched_events(self, limit: int) -> list[OutboxEvent]:
        """Events not yet fanned out, oldest first, claimed so no other worker takes them.

        Plain rows of what the fan-out needs (not the body): no ORM objects on this path.
        """
        stmt = (
            select(_E.c.seq, _E.c.id, _E.c.event_type, _E.c.company_id, _E.c.company_tags, _E.c.created_at,
                   _E.c.correlation_id)
            .where(_E.c.dispatched_at.is_(None))
            .order_by(_E.c.seq)
            .limit(limit)
        )
        if self._skip_locked:
            stmt = stmt.with_for_update(skip_locked=True)
        return [OutboxEvent(*row) for row in self.session.execute(stmt).all()]

    def purge_events_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` fanned-out events older than ``before`` with nothing pending.

        Their messages and attempts go with them (ON DELETE CASCADE).
        """
        pending = select(WebhookMessage.id).where(
            WebhookMessage.event_id == Event.id, WebhookMessage.status.in_(PENDING)
        )
        ids = list(self.session.scalars(
            select(Event.seq)
            .where(Event.created_at < before, Event.dispatched_at.is_not(None), ~pending.exists())
            .order_by(Event.seq)
            .limit(limit)
        ))
        if not ids:
            return 0
        event_ids = select(Event.id).where(Event.seq.in_(ids))
        messages = select(WebhookMessage.id).where(WebhookMessage.event_id.in_(event_ids))
        self.session.execute(delete(WebhookAttempt).where(WebhookAttempt.message_id.in_(messages)))
        self.session.execute(delete(WebhookMessage).where(WebhookMessage.event_id.in_(event_ids)))
        self.session.execute(delete(Event).where(Event.seq.in_(ids)))
        return len(ids)

    def mark_undispatched(self, limit: int, at: datetime) -> int:
        """Mark the oldest ``limit`` events not yet fanned out as fanned out (with no message),
        claimed as ``undispatched_events`` claims them; returns how many."""
        oldest = select(_E.c.seq).where(_E.c.dispatched_at.is_(None)).order_by(_E.c.seq).limit(limit)
        if self._skip_locked:
            oldest = oldest.with_for_update(skip_locked=True)
        done = self.session.execute(update(_E).where(_E.c.seq.in_(oldest.scalar_subquery())).values(dispatched_at=at))
        return int(done.rowcount)  # type: ignore[attr-defined]

    def mark_dispatched(self, seqs: Sequence[int], at: datetime) -> None:
        if seqs:
            self.session.execute(update(_E).where(_E.c.seq.in_(list(seqs))).values(dispatched_at=at))

    def events_since(self, since: datetime, event_types: Sequence[str]) -> list[Event]:
        stmt = (
            select(Event)
            .where(Event.created_at >= since, Event.event_type.in_(list(event_types)))
            .order_by(Event.seq)
        )
        return list(self.session.scalars(stmt))

    def event_ids_with_message(self, consumer_id: uuid.UUID, since: datetime) -> set[uuid.UUID]:
        stmt = (
            select(WebhookMessage.event_id)
            .join(Event, Event.id == WebhookMessage.event_id)
            .where(WebhookMessage.consumer_id == consumer_id, Event.created_at >= since)
        )
        return set(self.session.scalars(stmt))

    # Messages

    def add_messages(self, messages: Sequence[WebhookMessage]) -> None:
        self.session.add_all(messages)
        self.session.flush()

    def insert_messages(self, rows: Sequence[dict[str, Any]]) -> None:
        """New messages as plain rows, in one executemany (the fan-out's hot path)."""
        if rows:
            self.session.execute(insert(_M), list(rows))

    def message(
        self, consumer_id: uuid.UUID, message_id: str, *, for_update: bool = False
    ) -> WebhookMessage | None:
        stmt = select(WebhookMessage).where(
            WebhookMessage.id == message_id, WebhookMessage.consumer_id == consumer_id
        )
        return self.one(stmt, for_update=for_update)

    def messages(
        self, consumer_id: uuid.UUID, *, status: str | None, since: datetime | None, limit: int
    ) -> list[WebhookMessage]:
        stmt = select(WebhookMessage).where(WebhookMessage.consumer_id == consumer_id)
        if status is not None:
            stmt = stmt.where(WebhookMessage.status == status)
        if since is not None:
            stmt = stmt.where(WebhookMessage.created_at >= since)
        stmt = stmt.order_by(WebhookMessage.created_at.desc(), WebhookMessage.id).limit(limit)
        return list(self.session.scalars(stmt))

    def failed_since(self, consumer_id: uuid.UUID, since: datetime) -> list[WebhookMessage]:
        """Messages that failed for good, of events that happened since ``since``."""
        stmt = (
            select(WebhookMessage)
            .join(Event, Event.id == WebhookMessage.event_id)
            .where(
                WebhookMessage.consumer_id == consumer_id,
                WebhookMessage.status == WebhookMessageStatus.FAILURE,
                Event.created_at >= since,
            )
            .with_for_update(of=WebhookMessage)
        )
        return list(self.session.scalars(stmt))

    def make_pending_due(self, consumer_id: uuid.UUID, now: datetime) -> int:
        """Every pending message of the consumer becomes due now (re-enabling resumes them)."""
        result = self.session.execute(
            update(WebhookMessage)
            .where(WebhookMessage.consumer_id == consumer_id, WebhookMessage.status.in_(PENDING))
            .values(next_attempt_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def pending_counts(self) -> dict[uuid.UUID, dict[str, int]]:
        stmt = select(WebhookMessage.consumer_id, WebhookMessage.status, func.count()).group_by(
            WebhookMessage.consumer_id, WebhookMessage.status
        )
        out: dict[uuid.UUID, dict[str, int]] = {}
        for consumer_id, status, n in self.session.execute(stmt):
            out.setdefault(consumer_id, {})[status] = n
        return out

    # Claims (the worker)

    def claim_batch(
        self, now: datetime, limit: int, worker: str, until: datetime, *,
        per_consumer: int, room: dict[uuid.UUID, int] | None = None,
    ) -> list[ClaimedRow]:
        """Take up to ``limit`` due messages of enabled consumers for ``worker`` until ``until``,
        at most ``per_consumer`` of each consumer (``room[c]`` for those given), oldest due first.

        Two statements whatever ``limit``: one reads (and on PostgreSQL locks, FOR NO KEY UPDATE
        SKIP LOCKED, so concurrent workers skip each other's rows; on SQLite BEGIN IMMEDIATE
        serialises claims) the due messages with what their delivery needs, a few more than
        ``limit`` so a consumer without room does not leave slots idle; one UPDATE takes the
        lease of those chosen. Plain rows, no ORM objects.
        """
        if limit <= 0:
            return []
        room = dict(room or {})
        blocked = [c for c, r in room.items() if r <= 0]
        params = {"now": now, "blocked": blocked, "lim": limit + limit // 2 + 4}
        stmt = _CLAIM_LOCKED if self._skip_locked else _CLAIM
        taken: dict[uuid.UUID, int] = {}
        rows: list[ClaimedRow] = []
        for row in self.session.execute(stmt, params).all():
            claimed = ClaimedRow(*row)
            n = taken.get(claimed.consumer_id, 0)
            if n < room.get(claimed.consumer_id, per_consumer):
                taken[claimed.consumer_id] = n + 1
                rows.append(claimed)
                if len(rows) >= limit:
                    break
        if rows:
            self.session.execute(
                update(_M).where(_M.c.id.in_([r.message_id for r in rows])).values(locked_by=worker,
                                                                                  locked_until=until)
            )
        return rows

    def held_for_settle(self, worker: str, message_ids: Sequence[str]) -> dict[str, Held]:
        """Those of the messages that ``worker`` still holds (leases not taken over), locked."""
        if not message_ids:
            return {}
        stmt = select(_M.c.id, _M.c.attempts).where(_M.c.id.in_(list(message_ids)), _M.c.locked_by == worker)
        if self._skip_locked:
            stmt = stmt.with_for_update(key_share=True)
        return {m: Held(m, n) for m, n in self.session.execute(stmt).all()}

    def add_attempts(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert attempts in one executemany (plain rows, no ORM objects)."""
        if rows:
            self.session.execute(insert(_A), list(rows))

    def settle_succeeded(self, rows: Sequence[dict[str, Any]]) -> None:
        """``rows``: ``m_id``, ``m_at`` (attempted at), ``m_now`` (delivered at). One executemany."""
        if rows:
            self.session.connection().execute(_SUCCEEDED, list(rows))

    def settle_failed(self, rows: Sequence[dict[str, Any]]) -> None:
        """``rows``: ``m_id``, ``m_at``, ``m_status``, ``m_attempts``, ``m_next``. One executemany."""
        if rows:
            self.session.connection().execute(_FAILED, list(rows))

    def renew(self, worker: str, message_ids: Sequence[str], until: datetime) -> None:
        self.session.execute(
            update(WebhookMessage)
            .where(WebhookMessage.id.in_(list(message_ids)), WebhookMessage.locked_by == worker)
            .values(locked_until=until)
        )

    def release(self, worker: str, message_ids: Sequence[str]) -> int:
        result = self.session.execute(
            update(WebhookMessage)
            .where(WebhookMessage.id.in_(list(message_ids)), WebhookMessage.locked_by == worker)
            .values(locked_by=None, locked_until=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def existing_messages(self, message_ids: Sequence[str]) -> set[str]:
        if not message_ids:
            return set()
        return set(self.session.scalars(select(WebhookMessage.id).where(WebhookMessage.id.in_(list(message_ids)))))

    def consumer_succeeded(self, consumer_id: uuid.UUID) -> None:
        # Conditional, so the common case (not failing) writes and locks nothing.
        self.session.execute(
            update(WebhookConsumer)
            .where(WebhookConsumer.id == consumer_id, WebhookConsumer.failing_since.is_not(None))
            .values(failing_since=None)
        )

    def consumer_failed(self, consumer_id: uuid.UUID, now: datetime, disable_before: datetime) -> bool:
        """Note the failure; disable the consumer if it has failed since ``disable_before``.

        Returns True when this call disabled it.
        """
        self.session.execute(
            update(WebhookConsumer)
            .where(WebhookConsumer.id == consumer_id, WebhookConsumer.failing_since.is_(None))
            .values(failing_since=now)
        )
        result = self.session.execute(
            update(WebhookConsumer)
            .where(
                WebhookConsumer.id == consumer_id,
                WebhookConsumer.disabled.is_(False),
                WebhookConsumer.failing_since <= disable_before,
            )
            .values(disabled=True, disabled_reason="failing", disabled_at=now, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # Attempts

    def attempts(self, message_id: str) -> list[WebhookAttempt]:
        stmt = (
            select(WebhookAttempt)
            .where(WebhookAttempt.message_id == message_id)
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
        )
        return list(self.session.scalars(stmt))
