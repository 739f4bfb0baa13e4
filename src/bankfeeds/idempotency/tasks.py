"""Worker task: drop Idempotency-Key rows whose replay window has passed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bankfeeds.idempotency import service
from bankfeeds.worker.runner import Task, TaskContext, session_task


def purge_expired_keys(session: Session, ctx: TaskContext) -> int:
    """One batch of expired keys (the middleware already treats them as absent)."""
    return service.purge_expired(session, ctx.clock)


TASKS: list[Task] = [session_task(purge_expired_keys)]
