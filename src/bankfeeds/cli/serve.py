from __future__ import annotations

import typer
import uvicorn

from bankfeeds.config import get_settings
from bankfeeds.kit import migrate, serving


def command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Server processes (each runs the worker unless BANKFEEDS_RUN_WORKER=false)."),
) -> None:
    """Migrate the database (or wait for it, see BANKFEEDS_MIGRATE_ON_START), then serve every surface."""
    settings = get_settings()
    migrate.on_start(settings.database_url, settings.migrate_on_start, settings.migrate_wait_seconds,
                     demo=settings.demo)
    uvicorn.run(
        "bankfeeds.app:asgi_app", factory=True, host=host, port=port, workers=workers,
        log_level="info", access_log=False,
        **serving.uvicorn_options(max_connections=settings.max_connections),
    )
