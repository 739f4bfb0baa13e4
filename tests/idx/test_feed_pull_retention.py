"""The record of QuickBooks' pulls is kept ``feed_pull_retention_days`` (default 90), then purged by
the worker, oldest first, a batch at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from bankfeeds.config import Settings
from bankfeeds.idx import tasks
from bankfeeds.idx.tasks import purge_old_feed_pulls
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import FeedPull
from bankfeeds.worker import registry
from bankfeeds.worker.task import TaskContext
from tests.fixtures.app import make_settings
from tests.fixtures.factories import make_linked_feed

AGES = [120, 91, 90, 89, 1]  # days before now


def _pulls(database: Database) -> list[int]:
    """The pulls left, as their transaction counts (each pull's count is its age in days)."""
    with database.unit_of_work() as s:
        return sorted(s.scalars(select(FeedPull.transactions)))


def _seed(database: Database, clock: FrozenClock) -> None:
    _, _, [account] = make_linked_feed(database, clock)
    with database.unit_of_work() as s:
        s.add_all([FeedPull(source_account_id=account.id, pulled_at=clock.now() - timedelta(days=age, seconds=1),
                            transactions=age) for age in AGES])


def test_the_worker_runs_the_purge_every_ten_minutes() -> None:
    [found] = [t for t in registry.tasks() if t.name == "purge_old_feed_pulls"]
    assert found.poll_seconds == 600.0


def test_pulls_older_than_the_retention_go_and_the_rest_stay(
    database: Database, clock: FrozenClock, settings: Settings
) -> None:
    _seed(database, clock)
    ctx = TaskContext(database, settings, clock)
    assert purge_old_feed_pulls.run_once(ctx) == 3
    assert _pulls(database) == [1, 89]
    assert purge_old_feed_pulls.run_once(ctx) == 0
    # A shorter retention, set by the bank, takes more.
    short = TaskContext(database, make_settings(settings.database_url, feed_pull_retention_days=14), clock)
    assert purge_old_feed_pulls.run_once(short) == 1
    assert _pulls(database) == [1]


def test_the_oldest_go_first_a_batch_at_a_time(
    database: Database, clock: FrozenClock, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(database, clock)
    monkeypatch.setattr(tasks, "PURGE_BATCH", 2)
    ctx = TaskContext(database, settings, clock)
    assert purge_old_feed_pulls.run_once(ctx) == 2
    assert _pulls(database) == [1, 89, 90]
    assert purge_old_feed_pulls.run_once(ctx) == 1
    assert _pulls(database) == [1, 89]


def test_a_retention_shorter_than_the_console_chart_is_refused(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="feed_pull_retention_days"):
        make_settings(settings.database_url, feed_pull_retention_days=7)
