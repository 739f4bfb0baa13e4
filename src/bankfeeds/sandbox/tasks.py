"""The daily pull, run by the hub's worker when the sandbox is mounted in the hub (demo mode:
``worker.registry.demo_tasks``)."""

from __future__ import annotations

from bankfeeds.sandbox import service
from bankfeeds.sandbox.directory import hub_directory
from bankfeeds.worker.task import TaskContext, task


@task()
def sandbox_daily_pull(ctx: TaskContext) -> int:
    if not ctx.settings.demo:
        return 0  # the sandbox is mounted only in demo mode
    sb = service.Sandbox(
        database=ctx.database, clock=ctx.clock, directory=hub_directory(ctx.settings),
        vault=service.credentials_vault(ctx.settings.secret_key), demo=ctx.settings.demo,
    )
    return service.pull_due(sb)
