from __future__ import annotations

import signal
from types import FrameType

import typer

from bankfeeds.config import get_settings
from bankfeeds.kit import heap, migrate
from bankfeeds.kit import logging as structured
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.worker.runner import Worker


def command(once: bool = typer.Option(False, help="Run until nothing is due, then exit.")) -> None:
    """Run the background worker on its own (webhook delivery, timeouts, disconnections).

    Run as many as you like against one PostgreSQL database: they share the work. SIGTERM or
    Ctrl-C stops it gracefully (in-flight webhook deliveries finish or are released). Webhook
    delivery reads BANKFEEDS_WEBHOOKS_CONCURRENCY, _TIMEOUT_SECONDS, _LEASE_SECONDS, _GRACE_SECONDS.
    """
    settings = get_settings()
    structured.configure(settings.log_format or ("text" if settings.environment == "development" else "json"))
    migrate.on_start(settings.database_url, settings.migrate_on_start, settings.migrate_wait_seconds,
                     demo=settings.demo)
    worker = Worker(Database(settings.database_url), settings, SystemClock())
    if once:
        try:
            typer.echo(f"handled {worker.drain()} items")
        finally:
            worker.close()
        return

    def _graceful(signum: int, _frame: FrameType | None) -> None:
        worker.request_stop()

    signal.signal(signal.SIGTERM, _graceful)
    signal.signal(signal.SIGINT, _graceful)
    heap.settle()
    worker.run_forever()
