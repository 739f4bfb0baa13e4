"""Background work of push operations: time out Pending operations past ``timeoutInMinutes``."""

from __future__ import annotations

from bankfeeds.push_operations import service
from bankfeeds.worker.task import TaskContext, task

BATCH = 100


@task()
def time_out_pending(ctx: TaskContext) -> int:
    """One batch of due operations, claimed with FOR UPDATE SKIP LOCKED on PostgreSQL."""
    with ctx.database.unit_of_work() as session:
        return service.expire_due(session, ctx.clock, ctx.settings, limit=BATCH)
