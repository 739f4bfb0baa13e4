"""Worker task: drop Idempotency-Key rows whose replay window has passed."""

from __future__ import annotations

from bankfeeds.idempotency import service
from bankfeeds.worker.task import TaskContext, task


# Nothing is urgent here: the lane looks once a minute when it finds nothing to purge.
@task(poll_seconds=60.0)
def purge_expired_keys(ctx: TaskContext) -> int:
    """One batch of expired keys per run (the middleware already treats them as absent)."""
    with ctx.database.unit_of_work() as session:
        return service.purge_expired(session, ctx.clock)
