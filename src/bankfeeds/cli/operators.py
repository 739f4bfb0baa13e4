"""``bankfeeds operators``: the people who sign in to the console at /console."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from bankfeeds.config import get_settings
from bankfeeds.console import service
from bankfeeds.errors import BankfeedsError
from bankfeeds.kit import migrate
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database

app = typer.Typer(help="Operators of the console (/console): create, list, disable.", no_args_is_help=True)


def _database() -> Database:
    settings = get_settings()
    migrate.upgrade(settings.database_url, demo=settings.demo)
    return Database(settings.database_url)


@app.command()
def create(
    username: str,
    role: str = typer.Option("viewer", help="viewer (reads) or admin (reads, resends, manages API keys)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Create an operator. The password (12 characters or more) is asked for, or read from stdin;
    only its argon2id hash is kept."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with _database().unit_of_work() as session:
            row = service.create_operator(session, SystemClock(), username, password, role)
            name, role_ = row.username, row.role
            service.audit(session, SystemClock(), None, "operator_create", target=name, username="(command line)",
                          role=role_)
    except BankfeedsError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created operator {name} ({role_})")


@app.command("list")
def list_() -> None:
    """List operators (never their passwords)."""
    table = Table("username", "role", "created", "last sign-in", "disabled")
    with _database().unit_of_work() as session:
        for r in service.list_operators(session):
            table.add_row(r.username, r.role, r.created_at.isoformat(timespec="seconds"),
                          r.last_login_at.isoformat(timespec="seconds") if r.last_login_at else "",
                          r.disabled_at.isoformat(timespec="seconds") if r.disabled_at else "")
    Console().print(table)


@app.command()
def disable(username: str) -> None:
    """Disable an operator: signed out at once, and can no longer sign in."""
    try:
        with _database().unit_of_work() as session:
            row = service.disable_operator(session, SystemClock(), username)
            name = row.username
            service.audit(session, SystemClock(), None, "operator_disable", target=name, username="(command line)")
    except BankfeedsError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"disabled operator {name}")
