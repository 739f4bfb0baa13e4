from __future__ import annotations

import typer

from bankfeeds.config import get_settings
from bankfeeds.kit import migrate

app = typer.Typer(help="Database migrations.", no_args_is_help=True)


@app.command()
def upgrade(revision: str | None = typer.Argument(None, show_default=False)) -> None:
    """Apply migrations up to REVISION (default: the newest; the demo surfaces' tables only in demo
    mode, BANKFEEDS_DEMO=true)."""
    settings = get_settings()
    result = migrate.upgrade(settings.database_url, revision, demo=settings.demo)
    typer.echo(result.summary())
    typer.echo("database is up to date")


@app.command()
def check() -> None:
    """Fail if the models and the migrations disagree (the demo surfaces' tables only in demo mode)."""
    settings = get_settings()
    migrate.check(settings.database_url, demo=settings.demo)
    typer.echo("models and migrations agree")
