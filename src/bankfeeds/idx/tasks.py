"""Worker task: forget QuickBooks pulls older than the retention period (``feed_pull_retention_days``)."""

from __future__ import annotations

from datetime import timedelta

from bankfeeds.idx.repository import IdxRepository
from bankfeeds.worker.task import TaskContext, task

PURGE_BATCH = 1000


@task(poll_seconds=600.0)
def purge_old_feed_pulls(ctx: TaskContext) -> int:
    """One batch of the oldest expired pulls per run (the lane runs again at once while it finds some)."""
    before = ctx.clock.now() - timedelta(days=ctx.settings.feed_pull_retention_days)
    with ctx.database.unit_of_work() as session:
        return IdxRepository(session).purge_pulls_before(before, PURGE_BATCH)
