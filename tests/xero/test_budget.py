"""Xero's limits, shared by every process through the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.platforms.gbol.budget import APP_STATEMENTS, MINUTE_WINDOW, Budget, Limit, OverBudget, tenant_key
from tests.fixtures.app import make_settings


def budget(db_url: str, database: Database, clock: FrozenClock, **overrides: object) -> Budget:
    return Budget(database, clock, make_settings(db_url, **overrides))


def test_a_tenant_gets_its_calls_per_minute_then_waits_for_the_oldest_to_leave_the_window(
        db_url: str, database: Database, clock: FrozenClock) -> None:
    b = budget(db_url, database, clock)
    limit = [Limit(tenant_key("t1"), per_minute=3, per_day=100, concurrent=5)]
    first = clock.now()
    for _ in range(3):
        b.release(b.acquire(limit))
        clock.advance(timedelta(seconds=10))
    with pytest.raises(OverBudget) as refused:
        b.acquire(limit)
    assert refused.value.retry_at == first + MINUTE_WINDOW
    # Another tenant is not held up.
    b.release(b.acquire([Limit(tenant_key("t2"), per_minute=3)]))
    clock.set(first + MINUTE_WINDOW + timedelta(milliseconds=1))
    b.release(b.acquire(limit))


def test_the_day_limit_counts_a_rolling_day(db_url: str, database: Database, clock: FrozenClock) -> None:
    b = budget(db_url, database, clock)
    limit = [Limit(tenant_key("t"), per_minute=100, per_day=2)]
    b.release(b.acquire(limit))
    clock.advance(timedelta(hours=5))
    b.release(b.acquire(limit))
    with pytest.raises(OverBudget) as refused:
        b.acquire(limit)
    assert "per day" in str(refused.value)
    clock.advance(timedelta(hours=19, seconds=1))
    b.release(b.acquire(limit))


def test_calls_in_flight_are_capped_and_a_finished_call_frees_its_slot(
        db_url: str, database: Database, clock: FrozenClock) -> None:
    b = budget(db_url, database, clock, xero_timeout_seconds=0.2)
    limit = [Limit(tenant_key("t"), per_minute=100, concurrent=2)]
    held = [b.acquire(limit), b.acquire(limit)]
    with pytest.raises(OverBudget) as refused:
        b.acquire(limit)  # waits out the (short) timeout for a slot, then gives up
    assert "concurrent" in str(refused.value)
    b.release(held[0])
    b.release(b.acquire(limit))


def test_a_crashed_callers_slot_comes_back_when_its_lease_ends(
        db_url: str, database: Database, clock: FrozenClock) -> None:
    b = budget(db_url, database, clock, xero_timeout_seconds=0.1)
    limit = [Limit(tenant_key("t"), per_minute=100, concurrent=1)]
    b.acquire(limit)  # never released: its process died
    clock.advance(timedelta(seconds=6))
    b.release(b.acquire(limit))


def test_a_429_blocks_every_caller_until_retry_after(db_url: str, database: Database, clock: FrozenClock) -> None:
    b = budget(db_url, database, clock)
    limit = [Limit(tenant_key("t"), per_minute=100), Limit(APP_STATEMENTS, per_minute=180)]
    until = clock.now() + timedelta(seconds=30)
    b.block(APP_STATEMENTS, until)
    with pytest.raises(OverBudget) as refused:
        b.acquire(limit)
    assert refused.value.retry_at == until
    clock.set(until)
    b.release(b.acquire(limit))
    assert b.calls_in_window(tenant_key("t")) == 1
