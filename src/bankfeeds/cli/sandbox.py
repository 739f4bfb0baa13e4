"""``bankfeeds sandbox qbo|xero``: an accounting platform's sandbox on its own port and database.

``qbo`` is the QuickBooks sandbox, pulling from any hub's IDX API; ``xero`` is the Xero sandbox,
answering any hub's Xero client (identity, accounting reads and the Bank Feeds API).
"""

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

app = typer.Typer(no_args_is_help=True, help="Run an accounting platform's sandbox on its own.")


@app.command("qbo")
def qbo(
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
    migrate.upgrade(database_url, demo=True)  # the sandbox's own database: its tables are the demo branch's
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


@app.command("xero")
def xero(
    client_id: str = typer.Option("bankfeeds-demo-xero-client", envvar="BANKFEEDS_XERO_CLIENT_ID",
                                  help="The OAuth client id of the hub's Xero app."),
    client_secret: str = typer.Option(..., envvar="BANKFEEDS_XERO_CLIENT_SECRET",
                                      help="The OAuth client secret of the hub's Xero app."),
    redirect_uri: list[str] = typer.Option(
        ["http://127.0.0.1:8000/link/xero/callback"],
        help="A redirect URI registered for the client (repeat for several)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8200, help="Port to listen on."),
    database_url: str = typer.Option("sqlite:///./var/xero-sandbox.sqlite3", help="The sandbox's own database."),
    demo: bool = typer.Option(False, help="Show the demo users' password and 'Advance one day'."),
    processing_delay: float = typer.Option(0.0, min=0, help="Seconds (sandbox clock) before a statement "
                                                            "is processed."),
    limits: bool = typer.Option(True, help="Enforce Xero's rate limits (--no-limits for benches)."),
) -> None:
    """Serve the Xero sandbox on its own at /sandbox/xero."""
    from datetime import timedelta

    from bankfeeds.xero_sandbox import seed as xero_seed
    from bankfeeds.xero_sandbox.app import create_xero_sandbox_app
    from bankfeeds.xero_sandbox.limits import RateLimiter
    from bankfeeds.xero_sandbox.service import XeroSandbox

    for uri in redirect_uri:
        if not uri.startswith(("http://", "https://")):
            raise typer.BadParameter("--redirect-uri must start with http:// or https://")
    if not client_id.strip() or not client_secret:
        raise typer.BadParameter("--client-id and --client-secret must not be empty")
    migrate.upgrade(database_url, demo=True)  # the sandbox's own database: its tables are the demo branch's
    clock: Clock = OffsetClock() if demo else SystemClock()
    database = Database(database_url)
    xs = XeroSandbox(database=database, clock=clock, secret_key=get_settings().secret_key, demo=demo,
                     processing_delay=timedelta(seconds=processing_delay), limits=RateLimiter(enabled=limits),
                     clients=[(client_id.strip(), client_secret, list(redirect_uri))])
    with database.unit_of_work() as session:
        xero_seed.seed(session, clock, xs.clients)
    xs.seeded = True
    typer.echo(f"Xero sandbox on http://{host}:{port}/sandbox/xero (API base http://{host}:{port}/sandbox/xero/api, "
               f"authorize http://{host}:{port}/sandbox/xero/identity/connect/authorize)", err=True)
    uvicorn.run(create_xero_sandbox_app(xs), host=host, port=port, log_level="info", access_log=False)
