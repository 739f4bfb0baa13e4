"""Background work of push operations: time out Pending operations past ``timeoutInMinutes``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bankfeeds.push_operations import service
from bankfeeds.worker.runner import Task, TaskContext, session_task

BATCH = 100


def time_out_pending(session: Session, ctx: TaskContext) -> int:
    """One batch of due operations, claimed with FOR UPDATE SKIP LOCKED on PostgreSQL."""
    return service.expire_due(session, ctx.clock, ctx.settings, limit=BATCH)


TASKS: list[Task] = [session_task(time_out_pending)]
