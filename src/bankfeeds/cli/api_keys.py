from __future__ import annotations

import uuid
from datetime import datetime

import typer

from bankfeeds.api_keys import service
from bankfeeds.cli.common import open_database, where
from bankfeeds.config import get_settings
from bankfeeds.kit.clock import SystemClock

app = typer.Typer(help="API keys of the public API (in the server's database: see BANKFEEDS_HOME).",
                  no_args_is_help=True)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


@app.command()
def create(name: str = typer.Option("default", help="A label to tell keys apart.")) -> None:
    """Create a key. It is printed once, alone on the last line; only its hash is kept."""
    database = open_database(create=True)
    try:
        with database.unit_of_work() as session:
            row, raw = service.create(session, SystemClock(), name)
            key_id = row.id
    finally:
        database.dispose()
    typer.echo(f"Created API key {key_id} ({name}) in {where(get_settings())}. "
               "Store it now: it cannot be shown again.", err=True)
    typer.echo(raw)


@app.command("list")
def list_() -> None:
    """List keys (never the keys themselves), with full ids to pass to `revoke`."""
    database = open_database(create=False)
    try:
        with database.unit_of_work() as session:
            rows = [(str(r.id), r.name, r.prefix + "…", _when(r.created_at), _when(r.last_used_at),
                     _when(r.revoked_at)) for r in service.list_keys(session)]
    finally:
        database.dispose()
    if not rows:
        typer.echo(f"No API keys in {where(get_settings())}; `bankfeeds api-keys create` makes one.")
        return
    header = ("id", "name", "prefix", "created", "last used", "revoked")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    # Plain aligned columns, never wrapped or cut: an id must copy whole, whatever the terminal's width.
    for line in (header, *rows):
        typer.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())


@app.command()
def revoke(key_id: uuid.UUID) -> None:
    """Revoke a key: requests with it get 401 at once."""
    database = open_database(create=False)
    try:
        with database.unit_of_work() as session:
            service.revoke(session, SystemClock(), key_id)
    except Exception as exc:
        from bankfeeds.errors import BankfeedsError

        if isinstance(exc, BankfeedsError):
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(1) from None
        raise
    finally:
        database.dispose()
    typer.echo(f"revoked {key_id}")
