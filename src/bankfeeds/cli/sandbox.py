"""``bankfeeds sandbox``: the QuickBooks sandbox alone, pulling from any hub's IDX API."""

from __future__ import annotations

import typer
import uvicorn

from bankfeeds.config import get_settings
from bankfeeds.kit import migrate
from bankfeeds.kit.clock import Clock, OffsetClock, SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.sandbox import seed, service
from bankfeeds.sandbox.app import create_sandbox_app
from bankfeeds.sandbox.directory import Directory, Institution, idx_url_for


def command(
    hub_url: str = typer.Option("http://127.0.0.1:8000", help="The hub's base URL (or its IDX URL)."),
    partner_key: str = typer.Option(..., envvar="BANKFEEDS_IDX_PARTNER_KEY",
                                    help="The X-Partner-Key the hub issued (sent base64-encoded)."),
    institution: str = typer.Option("Demo Bank", help="The institution name users search for."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8100, help="Port to listen on."),
    database_url: str = typer.Option("sqlite:///./var/sandbox.sqlite3", help="The sandbox's own database."),
    demo: bool = typer.Option(False, help="Show 'Advance one day' (moves this sandbox's clock only)."),
    poll_seconds: float = typer.Option(60.0, help="How often to look for feeds due for their daily pull."),
) -> None:
    """Serve the QuickBooks sandbox on its own at /sandbox/qbo, pointed at HUB_URL."""
    if not hub_url.startswith(("http://", "https://")):
        raise typer.BadParameter("--hub-url must start with http:// or https://")
    if not institution.strip():
        raise typer.BadParameter("--institution must not be empty")
    migrate.upgrade(database_url)
    clock: Clock = OffsetClock() if demo else SystemClock()
    database = Database(database_url)
    directory = Directory([Institution(institution.strip(), idx_url_for(hub_url), partner_key)])
    secret_key = get_settings().secret_key
    sb = service.Sandbox(database=database, clock=clock, directory=directory,
                         vault=service.credentials_vault(secret_key), demo=demo)
    with database.unit_of_work() as session:
        seed.seed(session, clock)
    app = create_sandbox_app(sb, secret_key, poll_seconds=poll_seconds)
    typer.echo(f"QuickBooks sandbox on http://{host}:{port}/sandbox/qbo, pulling '{institution}' from "
               f"{idx_url_for(hub_url)}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
