"""Demo mode's clock survives a restart: the offset is kept in the database (``demo_clock``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bankfeeds.app import create_app
from bankfeeds.kit.clock import OffsetClock
from bankfeeds.kit.db import Database
from tests.fixtures.app import make_settings


def test_the_demo_clock_keeps_its_offset_across_restarts(database: Database, db_url: str) -> None:
    settings = make_settings(db_url, demo=True)
    first = create_app(settings, database=database, run_worker=False).state.clock
    assert isinstance(first, OffsetClock) and first.offset == timedelta(0)
    first.advance(timedelta(days=1))
    first.advance(timedelta(days=2))

    restarted = create_app(settings, database=database, run_worker=False).state.clock
    assert isinstance(restarted, OffsetClock) and restarted.offset == timedelta(days=3)
    assert restarted.now() - datetime.now(UTC) > timedelta(days=3) - timedelta(minutes=5)


def test_outside_demo_mode_the_clock_is_the_system_clock(database: Database, db_url: str) -> None:
    clock = create_app(make_settings(db_url), database=database, run_worker=False).state.clock
    assert not isinstance(clock, OffsetClock)
