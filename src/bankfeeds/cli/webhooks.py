"""``bankfeeds webhooks``: consumers, their secrets, and message recovery, straight on the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from bankfeeds.cli.common import open_database
from bankfeeds.config import get_settings
from bankfeeds.errors import BankfeedsError
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.deps import parse_uuid
from bankfeeds.models import WebhookConsumer
from bankfeeds.models.webhook_message import PENDING_MESSAGE_STATUSES, WebhookMessageStatus
from bankfeeds.webhooks import service
from bankfeeds.webhooks.config import REPLAY_WINDOW
from bankfeeds.webhooks.deps import NOT_FOUND
from bankfeeds.webhooks.events import EVENT_TYPES

app = typer.Typer(help="Webhook consumers, their signing secrets, and message recovery.", no_args_is_help=True)


@contextmanager
def _session(*, create: bool = False) -> Iterator[Session]:
    """One transaction for the command, on the server's migrated database (never a new one to read)."""
    database = open_database(create=create)
    try:
        with database.unit_of_work() as session:
            yield session
    finally:
        database.dispose()


def _consumer(session: Session, raw_id: str, *, for_update: bool = False) -> WebhookConsumer:
    return service.get(session, parse_uuid(raw_id, NOT_FOUND), for_update=for_update)


def _fail(exc: BankfeedsError) -> typer.Exit:
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(1)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def _parse_since(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 date or date-time: {raw}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@app.command()
def add(
    url: str = typer.Argument(..., help="The URL that receives the webhooks."),
    event_type: list[str] = typer.Option(
        [], "--event-type", "-e", help="An event type to subscribe to (repeat it); default: all of them."
    ),
    company_tag: list[str] = typer.Option(
        [], "--company-tag", "-t", help="Only companies with this 'tagKey:tagValue' (repeat it: any matches)."
    ),
    disabled: bool = typer.Option(False, help="Create it disabled."),
) -> None:
    """Create a consumer. Its signing secret is printed once, alone on the last line."""
    settings = get_settings()
    try:
        with _session(create=True) as session:
            consumer, secret = service.add(
                session, SystemClock(), settings, url, event_type or list(EVENT_TYPES),
                company_tags=company_tag or None, disabled=disabled,
            )
            consumer_id, types = consumer.id, consumer.event_types
    except BankfeedsError as exc:
        raise _fail(exc) from None
    typer.echo(f"Created webhook consumer {consumer_id} -> {url} ({', '.join(types)}).", err=True)
    typer.echo("Its signing secret follows; store it now: it is shown once (see rotate-secret).", err=True)
    typer.echo(secret)


@app.command("list")
def list_() -> None:
    """List consumers and how many of their messages are in each state."""
    with _session() as session:
        rows = service.list_consumers(session)
        counts = service.pending_counts(session)
        table = Table("id", "url", "state", "event types", "company tags", "pending", "failed", "delivered")
        for c in rows:
            n = counts.get(c.id, {})
            state = f"disabled ({c.disabled_reason})" if c.disabled else "enabled"
            table.add_row(str(c.id), c.url, state, ", ".join(c.event_types), ", ".join(c.company_tags or []),
                          str(sum(n.get(s, 0) for s in PENDING_MESSAGE_STATUSES)),
                          str(n.get(WebhookMessageStatus.FAILURE, 0)), str(n.get(WebhookMessageStatus.SUCCESS, 0)))
    Console(width=200).print(table)


@app.command()
def remove(consumer_id: str) -> None:
    """Delete a consumer; its pending retries are dropped."""
    try:
        with _session() as session:
            service.delete(session, _consumer(session, consumer_id, for_update=True))
    except BankfeedsError as exc:
        raise _fail(exc) from None
    typer.echo(f"removed {consumer_id}")


@app.command()
def disable(consumer_id: str) -> None:
    """Stop sending to a consumer; its pending messages wait."""
    try:
        with _session() as session:
            service.disable(session, SystemClock(), _consumer(session, consumer_id, for_update=True))
    except BankfeedsError as exc:
        raise _fail(exc) from None
    typer.echo(f"disabled {consumer_id}")


@app.command()
def enable(consumer_id: str) -> None:
    """Send to a consumer again; its pending messages go at once."""
    try:
        with _session() as session:
            service.enable(session, SystemClock(), _consumer(session, consumer_id, for_update=True))
    except BankfeedsError as exc:
        raise _fail(exc) from None
    typer.echo(f"enabled {consumer_id}")


@app.command("rotate-secret")
def rotate_secret(consumer_id: str) -> None:
    """A new signing secret (printed once); the old one also signs for 24 hours."""
    settings = get_settings()
    try:
        with _session() as session:
            secret, until = service.rotate_secret(
                session, SystemClock(), settings, _consumer(session, consumer_id, for_update=True)
            )
    except BankfeedsError as exc:
        raise _fail(exc) from None
    typer.echo(f"New signing secret for {consumer_id}; the previous one also signs until {_when(until)}.", err=True)
    typer.echo(secret)


@app.command()
def messages(
    consumer_id: str,
    status: str | None = typer.Option(None, help="Sending, Attempting, Success or Failure."),
    limit: int = typer.Option(50, help="How many, newest first."),
) -> None:
    """A consumer's messages, newest first."""
    try:
        with _session() as session:
            rows = service.messages(session, _consumer(session, consumer_id), status=status, limit=limit)
            table = Table("webhook-id", "event type", "status", "failed attempts", "next attempt", "created",
                          "delivered")
            for m in rows:
                table.add_row(m.id, m.event_type, m.status, str(m.attempts), _when(m.next_attempt_at),
                              _when(m.created_at), _when(m.delivered_at))
    except BankfeedsError as exc:
        raise _fail(exc) from None
    Console(width=200).print(table)


@app.command()
def attempts(consumer_id: str, message_id: str) -> None:
    """Every attempt at one message: time, status, latency, the first bytes of the response."""
    try:
        with _session() as session:
            rows = service.attempts(session, _consumer(session, consumer_id), message_id)
            table = Table("attempted", "status", "latency ms", "response / error", "trigger")
            for a in rows:
                table.add_row(_when(a.attempted_at), str(a.status_code or "-"), str(a.latency_ms),
                              (a.error or a.response)[:80], a.trigger)
    except BankfeedsError as exc:
        raise _fail(exc) from None
    Console(width=200).print(table)


@app.command()
def resend(consumer_id: str, message_id: str) -> None:
    """Send one message again now (same webhook-id)."""
    try:
        with _session() as session:
            service.resend(session, SystemClock(), _consumer(session, consumer_id), message_id)
    except BankfeedsError as exc:
        raise _fail(exc) from None
    typer.echo(f"{message_id} queued")


@app.command()
def recover(
    consumer_id: str, since: str = typer.Option(..., help="ISO 8601 date or date-time (UTC if no zone).")
) -> None:
    """Send again every message that failed for good since a time."""
    try:
        with _session() as session:
            n = service.recover(session, SystemClock(), _consumer(session, consumer_id), _parse_since(since))
    except BankfeedsError as exc:
        raise _fail(exc) from None
    typer.echo(f"{n} failed message(s) queued again")


@app.command()
def replay(
    consumer_id: str,
    since: str | None = typer.Option(None, help="ISO 8601 date or date-time, within 14 days; default: 14 days ago."),
) -> None:
    """Send the events of the last 14 days that the consumer never got (e.g. while it was disabled)."""
    clock = SystemClock()
    start = _parse_since(since) if since else clock.now() - REPLAY_WINDOW + timedelta(minutes=1)
    try:
        with _session() as session:
            n = service.replay_missing(session, clock, _consumer(session, consumer_id), start)
    except BankfeedsError as exc:
        raise _fail(exc) from None
    typer.echo(f"{n} missed message(s) queued")


@app.command("event-types")
def event_types() -> None:
    """The event types a consumer can subscribe to."""
    for t in EVENT_TYPES:
        typer.echo(t)
