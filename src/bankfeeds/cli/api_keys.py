from __future__ import annotations

import uuid

import typer
from rich.console import Console
from rich.table import Table

from bankfeeds.api_keys import service
from bankfeeds.config import get_settings
from bankfeeds.kit import migrate
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database

app = typer.Typer(help="API keys of the public API.", no_args_is_help=True)


def _database() -> Database:
    settings = get_settings()
    migrate.on_start(settings.database_url, settings.migrate_on_start, settings.migrate_wait_seconds,
                     announce=False)
    return Database(settings.database_url)


@app.command()
def create(name: str = typer.Option("default", help="A label to tell keys apart.")) -> None:
    """Create a key. It is printed once, alone on the last line; only its hash is kept."""
    with _database().unit_of_work() as session:
        row, raw = service.create(session, SystemClock(), name)
        key_id = row.id
    typer.echo(f"Created API key {key_id} ({name}). Store it now: it cannot be shown again.", err=True)
    typer.echo(raw)


@app.command("list")
def list_() -> None:
    """List keys (never the keys themselves)."""
    with _database().unit_of_work() as session:
        rows = service.list_keys(session)
        table = Table("id", "name", "prefix", "created", "last used", "revoked")
        for r in rows:
            table.add_row(str(r.id), r.name, r.prefix + "…", r.created_at.isoformat(timespec="seconds"),
                          r.last_used_at.isoformat(timespec="seconds") if r.last_used_at else "",
                          r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "")
    Console().print(table)


@app.command()
def revoke(key_id: uuid.UUID) -> None:
    """Revoke a key: requests with it get 401 at once."""
    with _database().unit_of_work() as session:
        service.revoke(session, SystemClock(), key_id)
    typer.echo(f"revoked {key_id}")
