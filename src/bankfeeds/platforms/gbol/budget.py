"""Xero's rate limits, shared by every process of the hub through the database.

Xero counts per tenant (60 calls a minute, 5,000 a day, 5 in flight at once) and, for
``POST /Statements``, per app (180 a minute). A hub with many worker processes stays under them
only if the processes share one count, so each call first takes a *slot*: in a short transaction
of its own it locks the budget's row (``xero_budgets``), counts the budget's recent calls
(``xero_calls``) and, if there is room, records the call; the call's row is marked finished when
Xero answers. A process killed mid-call leaves a row that counts as in flight until its lease ends.

Windows are measured from when the hub *starts* a call, and Xero measures from when the call
arrives, a little later; so the minute window here is a second longer than Xero's, and a call
never lands in a minute Xero already counts as full.

When there is no room the answer is the instant room opens (``retry_at``): the caller schedules
its work for then instead of spinning. Only the in-flight limit is waited out on the spot, since
in-flight calls end in real time within the HTTP timeout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.kit.clock import Clock, utc
from bankfeeds.kit.db import Database
from bankfeeds.models.xero_budget import XeroBudget
from bankfeeds.models.xero_call import XeroCall

MINUTE_WINDOW = timedelta(seconds=61)
DAY_WINDOW = timedelta(days=1)
KEEP_CALLS = timedelta(hours=25)
APP_STATEMENTS = "app:statements"


@dataclass(frozen=True)
class Limit:
    key: str
    per_minute: int
    per_day: int | None = None
    concurrent: int | None = None


def tenant_key(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


def limits_for(settings: Settings, tenant_id: str, *, statements: bool) -> list[Limit]:
    """The budgets one call to a tenant draws on."""
    limits = [Limit(tenant_key(tenant_id), settings.xero_calls_per_minute, settings.xero_calls_per_day,
                    settings.xero_concurrent_calls)]
    if statements:
        limits.append(Limit(APP_STATEMENTS, settings.xero_statements_per_minute))
    return limits


class OverBudget(Exception):
    """No room before ``retry_at``."""

    def __init__(self, retry_at: datetime, reason: str) -> None:
        super().__init__(f"Xero's {reason} limit is reached until {retry_at.isoformat()}")
        self.retry_at = retry_at
        self.reason = reason


@dataclass(frozen=True)
class Slot:
    call_ids: tuple[int, ...]


class _Busy(Exception):
    """Every in-flight slot is taken; one frees within the HTTP timeout."""


class Budget:
    def __init__(self, database: Database, clock: Clock, settings: Settings) -> None:
        self.database = database
        self.clock = clock
        self.settings = settings

    def acquire(self, limits: Sequence[Limit]) -> Slot:
        """A slot on every budget in ``limits``, or ``OverBudget``. Waits only for an in-flight slot."""
        deadline = time.monotonic() + self.settings.xero_timeout_seconds + 1
        pause = 0.02
        while True:
            try:
                with self.database.unit_of_work() as session:
                    return self._try(session, sorted(limits, key=lambda lim: lim.key))
            except _Busy:
                if time.monotonic() > deadline:
                    raise OverBudget(self.clock.now() + timedelta(seconds=1), "concurrent calls") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def _try(self, session: Session, limits: Sequence[Limit]) -> Slot:
        now = self.clock.now()
        for limit in limits:
            _ensure_row(session, limit.key)
        rows = {
            b.key: b for b in session.scalars(
                select(XeroBudget).where(XeroBudget.key.in_([lim.key for lim in limits]))
                .order_by(XeroBudget.key).with_for_update()
            )
        }
        for limit in limits:
            blocked = rows[limit.key].blocked_until
            if blocked is not None and utc(blocked) > now:
                raise OverBudget(utc(blocked), "rate (Xero answered 429)")
            session.execute(delete(XeroCall).where(XeroCall.budget_key == limit.key,
                                                   XeroCall.started_at < now - KEEP_CALLS))
            _check_window(session, limit.key, limit.per_minute, now, MINUTE_WINDOW, "calls per minute")
            if limit.per_day is not None:
                _check_window(session, limit.key, limit.per_day, now, DAY_WINDOW, "calls per day")
            if limit.concurrent is not None:
                in_flight = session.scalar(
                    select(func.count()).select_from(XeroCall).where(
                        XeroCall.budget_key == limit.key, XeroCall.finished_at.is_(None), XeroCall.lease_until > now)
                ) or 0
                if in_flight >= limit.concurrent:
                    raise _Busy()
        lease = now + timedelta(seconds=self.settings.xero_timeout_seconds + 5)
        calls = [XeroCall(budget_key=lim.key, started_at=now, lease_until=lease) for lim in limits]
        session.add_all(calls)
        session.flush()
        return Slot(tuple(c.id for c in calls))

    def release(self, slot: Slot) -> None:
        with self.database.unit_of_work() as session:
            session.execute(update(XeroCall).where(XeroCall.id.in_(slot.call_ids))
                            .values(finished_at=self.clock.now()))

    def block(self, key: str, until: datetime) -> None:
        """Xero said 429: nobody calls on this budget before ``until``."""
        with self.database.unit_of_work() as session:
            _ensure_row(session, key)
            row = session.get(XeroBudget, key, with_for_update=True)
            assert row is not None
            if row.blocked_until is None or utc(row.blocked_until) < until:
                row.blocked_until = until

    def calls_in_window(self, key: str, window: timedelta = MINUTE_WINDOW) -> int:
        """How many calls started on this budget within the window ending now (for benches and tests)."""
        with self.database.unit_of_work() as session:
            return session.scalar(select(func.count()).select_from(XeroCall).where(
                XeroCall.budget_key == key, XeroCall.started_at > self.clock.now() - window)) or 0


def _check_window(session: Session, key: str, limit: int, now: datetime, window: timedelta, reason: str) -> None:
    since = now - window
    count = session.scalar(select(func.count()).select_from(XeroCall).where(
        XeroCall.budget_key == key, XeroCall.started_at > since)) or 0
    if count < limit:
        return
    # Room opens when enough of the window's oldest calls have left it.
    oldest = session.scalar(
        select(XeroCall.started_at).where(XeroCall.budget_key == key, XeroCall.started_at > since)
        .order_by(XeroCall.started_at).offset(count - limit).limit(1)
    )
    assert oldest is not None
    raise OverBudget(utc(oldest) + window, reason)


def _ensure_row(session: Session, key: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(XeroBudget).values(key=key, blocked_until=None).on_conflict_do_nothing())
