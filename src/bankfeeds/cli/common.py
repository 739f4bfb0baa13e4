"""What every command that works on the database shares: finding it, and never inventing an empty one."""

from __future__ import annotations

import typer

from bankfeeds.config import Settings, get_settings
from bankfeeds.kit import migrate
from bankfeeds.kit.db import Database


def where(settings: Settings) -> str:
    """The database in words, for messages (never a password: only SQLite paths are spelled out)."""
    path = settings.sqlite_path()
    if path is not None:
        return str(path)
    return settings.database_url.split("@", 1)[-1] if "@" in settings.database_url else "the configured database"


def open_database(*, create: bool) -> Database:
    """The server's database, migrated.

    A command that only reads (``create=False``) refuses to start on a SQLite file that does not
    exist: it would create an empty database and answer from it, as if there were no data.
    """
    settings = get_settings()
    path = settings.sqlite_path()
    if not create and path is not None and not path.exists():
        typer.echo(
            f"error: there is no database at {path}. Start the server once (make run) or point this command "
            "at the server's database with BANKFEEDS_HOME (its folder) or BANKFEEDS_DATABASE_URL.", err=True)
        raise typer.Exit(1)
    # Migrates under the lock, or (BANKFEEDS_MIGRATE_ON_START=false) waits for the migration job.
    migrate.on_start(settings.database_url, settings.migrate_on_start, settings.migrate_wait_seconds,
                     demo=settings.demo, announce=False)
    return Database(settings.database_url)
