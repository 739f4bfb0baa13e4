from __future__ import annotations

import typer

from bankfeeds.config import get_settings
from bankfeeds.kit import migrate

app = typer.Typer(help="Database migrations.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    result = migrate.upgrade(get_settings().database_url, revision)
    typer.echo(result.summary())
    typer.echo("database is up to date")


@app.command()
def check() -> None:
    """Fail if the models and the migrations disagree."""
    migrate.check(get_settings().database_url)
    typer.echo("models and migrations agree")
