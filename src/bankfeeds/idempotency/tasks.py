"""Worker task: drop Idempotency-Key rows whose replay window has passed."""

from __future__ import annotations

from bankfeeds.idempotency import service
from bankfeeds.worker.runner import Task, TaskContext


class PurgeExpiredKeys:
    """One batch of expired keys per run (the middleware already treats them as absent)."""

    __name__ = "purge_expired_keys"
    # Nothing is urgent here: the lane looks once a minute when it finds nothing to purge.
    poll_seconds = 60.0

    def __call__(self, ctx: TaskContext) -> int:
        with ctx.database.unit_of_work() as session:
            return service.purge_expired(session, ctx.clock)


TASKS: list[Task] = [PurgeExpiredKeys()]
