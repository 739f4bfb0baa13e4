"""``bankfeeds publish FILE...``: send bank statement files to a source account's bank feed.

Works against this hub and against Codat itself (``--server-url https://api.codat.io``).
Exit codes: 0 everything sent (or nothing new), 1 partial failure (some transactions failed or
are still pending), 2 bad input (a file refused, a bad option; nothing from a refused file is
sent), 3 failure (nothing could be published: authentication, unknown account, server unreachable).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from bankfeeds.kit import jsonutil
from bankfeeds.publish.client import BankFeedsClient, RetryPolicy
from bankfeeds.publish.journal import default_directory
from bankfeeds.publish.parsers import FORMATS, CsvOptions
from bankfeeds.publish.parsers.csvfile import FIELDS
from bankfeeds.publish.plan import MAX_BATCH
from bankfeeds.publish.runner import EXIT_BAD_INPUT, FileReport, Options, Publisher, Result


class RichReporter:
    """A progress bar per file: transactions sent out of those to send, and batches."""

    def __init__(self, console: Console, paths: list[str]) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.fields[name]}", justify="left"),
            TextColumn("{task.fields[state]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("transactions"),
            TextColumn("batches {task.fields[batches_done]}/{task.fields[batches]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[int, TaskID] = {}
        self.batches_done: dict[int, int] = {}
        self.paths = paths

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def parsing(self, index: int, path: str) -> None:
        self.tasks[index] = self.progress.add_task(
            "", total=None, name=Path(path).name, state="reading", batches=0, batches_done=0)

    def parsed(self, index: int, report: FileReport) -> None:
        state = "[red]refused" if report.error else f"{report.format}, {report.read} read"
        self.progress.update(self.tasks[index], state=state, total=0 if report.error else None)

    def planned(self, index: int, to_send: int, batches: int) -> None:
        task = self.tasks[index]
        current = self.progress.tasks[task]
        total = (current.total or 0) + to_send
        self.progress.update(task, total=total, batches=current.fields["batches"] + batches)

    def batch_done(self, account: str, number: int, total: int, per_file: dict[int, int]) -> None:
        for index, count in per_file.items():
            task = self.tasks[index]
            self.batches_done[index] = self.batches_done.get(index, 0) + 1
            self.progress.update(task, advance=count, batches_done=self.batches_done[index])

    def note(self, message: str) -> None:
        self.progress.console.print(f"[yellow]note:[/] {message}")


def _mapping(pairs: list[str], map_file: Path | None) -> dict[str, str]:
    lines = list(pairs)
    if map_file is not None:
        for raw in map_file.read_text(encoding="utf-8").splitlines():
            raw = raw.split("#", 1)[0].strip()
            if raw:
                lines.append(raw)
    mapping: dict[str, str] = {}
    for line in lines:
        sep = "=" if "=" in line else ","
        left, found, right = line.partition(sep)
        if not found or not left.strip() or not right.strip():
            raise typer.BadParameter(f"expected FILE_ACCOUNT=SOURCE_ACCOUNT_ID, got {line!r}", param_hint="--map")
        mapping[left.strip()] = right.strip()
    return mapping


def _columns(spec: str | None) -> dict[str, str]:
    if not spec:
        return {}
    columns: dict[str, str] = {}
    for part in spec.split(","):
        name, found, ref = part.partition("=")
        if not found or name.strip() not in FIELDS or not ref.strip():
            raise typer.BadParameter(f"expected FIELD=COLUMN with FIELD among {', '.join(FIELDS)}, got {part!r}",
                                     param_hint="--csv-columns")
        columns[name.strip()] = ref.strip()
    return columns


def _decimal(value: str | None, hint: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"expected a decimal amount like -12.50, got {value!r}", param_hint=hint) from None


def _summary(console: Console, result: Result) -> None:
    title = "publish (dry run: nothing sent)" if result.dry_run else "publish"
    table = Table(title=title, show_footer=True)
    keys = ("read", "skipped", "published", "failed", "pending", "not_sent")
    totals = {k: sum(getattr(f, k) for f in result.files) for k in keys}
    if result.dry_run:  # the column shows what would be sent: so does its total
        totals["published"] = sum(f.to_send for f in result.files)
    table.add_column("file", footer="total")
    table.add_column("format")
    for key, label in (("read", "read"), ("skipped", "skipped (already sent)"),
                       ("published", "would send" if result.dry_run else "published"),
                       ("failed", "failed"), ("pending", "pending"), ("not_sent", "not sent")):
        table.add_column(label, justify="right", footer=str(totals[key]))
    for f in result.files:
        published = f.to_send if result.dry_run else f.published
        table.add_row(Path(f.path).name, f.format or "?", str(f.read), str(f.skipped), str(published), str(f.failed),
                      str(f.pending), str(f.not_sent), style="red" if f.error else None)
    console.print(table)
    for f in result.files:
        if f.error:
            console.print(f"[red]refused:[/] {f.error.describe()} (nothing from this file was sent)")
        if f.unselected:
            console.print(f"[yellow]note:[/] {f.path}: account(s) {', '.join(f.unselected)} not selected; not sent")
        if f.duplicate_in_input or f.older or f.not_booked:
            console.print(
                f"[dim]{f.path}: skipped {f.already_sent} already sent, {f.duplicate_in_input} also in an earlier "
                f"file, {f.older} older than the account holds; {f.not_booked} entries not booked (pending)[/]")
    causes = _failure_causes(result.failures)
    told = {message for message, _, _ in causes}
    for a in result.accounts:
        # One line per cause: not again what the fatal error or a listed failure already says.
        if a.stopped and a.stopped not in told and not (result.fatal and result.fatal in a.stopped):
            console.print(f"[red]account {a.account}:[/] {a.stopped}")
        if a.resolved_open:
            console.print(f"account {a.account}: finished {a.resolved_open} batch(es) left open by an earlier run")
    if result.dry_run:
        for a in result.accounts:
            if a.plan is None or not a.plan.batches:
                continue
            batches = Table(title=f"batches for source account {a.account}")
            for col in ("#", "transactions", "from", "to", "closing balance"):
                batches.add_column(col, justify="right" if col != "from" and col != "to" else "left")
            for n, b in enumerate(a.plan.batches, start=1):
                batches.add_row(str(n), str(len(b)), b[0].date_text, b[-1].date_text, str(b[-1].balance))
            console.print(batches)
            sample = Table(title="first transactions to send")
            for col in ("date", "amount", "balance", "description", "id"):
                sample.add_column(col, justify="right" if col in ("amount", "balance") else "left")
            for o in a.plan.batches[0][:10]:
                sample.add_row(o.date_text, str(o.amount), str(o.balance), o.description[:50], o.id)
            console.print(sample)
    for message, account, items in causes[:20]:
        if len(items) == 1:
            one = items[0]
            where = f"{one['file']}:{one['line']}" if one.get("file") else account
            # One line per cause, never wrapped: it is read by people and grepped by scripts.
            console.print(f"[red]failed:[/] {where} {one.get('date', '')} {one.get('amount', '')} "
                          f"id {one.get('id')}: {message}", soft_wrap=True)
        else:
            lines = sorted({f"{i['file']}:{i['line']}" for i in items if i.get("file")})
            shown = ", ".join(lines[:5]) + (f" and {len(lines) - 5} more" if len(lines) > 5 else "")
            console.print(f"[red]failed:[/] {len(items)} transactions for account {account}"
                          f"{' (' + shown + ')' if shown else ''}: {message}", soft_wrap=True)
    if len(causes) > 20:
        console.print(f"... and {len(causes) - 20} more causes of failure (use --json for every transaction)")
    if result.fatal:
        console.print(f"[red]error:[/] {result.fatal}")


def _failure_causes(failures: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Failures grouped by what caused them: (message, account, the transactions), first seen first."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for f in failures:
        groups.setdefault((str(f.get("message")), str(f.get("account") or "")), []).append(f)
    return [(message, account, items) for (message, account), items in groups.items()]


def command(
    files: Annotated[list[Path], typer.Argument(help="Statement files: camt.053/052, MT940, OFX/QFX/QBO, CSV.")],
    company: Annotated[str, typer.Option("--company", help="Company id.")],
    connection: Annotated[str, typer.Option("--connection", help="Connection id.")],
    account: Annotated[str | None, typer.Option("--account", help="Source account id to publish to.")] = None,
    server_url: Annotated[str, typer.Option("--server-url", envvar="BANKFEEDS_SERVER_URL",
                                            help="The hub, or https://api.codat.io.")] = "http://127.0.0.1:8000",
    file_account: Annotated[str | None, typer.Option(
        "--file-account",
        help="In files holding several accounts, publish only this one (IBAN, account number).")] = None,
    map_: Annotated[list[str] | None, typer.Option(
        "--map", help="FILE_ACCOUNT=SOURCE_ACCOUNT_ID, repeatable: publish each account of a file to its own.")] = None,
    map_file: Annotated[Path | None, typer.Option(
        "--map-file", help="Lines of FILE_ACCOUNT=SOURCE_ACCOUNT_ID.")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help=f"One of {', '.join(FORMATS)} (default: detected).")] = None,
    csv_columns: Annotated[str | None, typer.Option(
        "--csv-columns", help="e.g. date=Booking date,description=Text,amount=Amount,balance=Balance "
        "(header names or 1-based positions); default: guessed from the header.")] = None,
    date_format: Annotated[str | None, typer.Option("--date-format", help="CSV date format, e.g. %d/%m/%Y.")] = None,
    decimal_separator: Annotated[str, typer.Option("--decimal-separator", help="CSV decimal separator: . or ,")] = ".",
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="CSV delimiter (default: sniffed).")] = None,
    encoding: Annotated[str | None, typer.Option(
        "--encoding", help="CSV encoding (default UTF-8, else cp1252).")] = None,
    opening_balance: Annotated[str | None, typer.Option("--opening-balance", help="CSV without balances.")] = None,
    closing_balance: Annotated[str | None, typer.Option("--closing-balance", help="CSV without balances.")] = None,
    after: Annotated[datetime | None, typer.Option(
        "--after",
        help="The account already holds transactions up to this date (e.g. sent by another system).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=MAX_BATCH)] = MAX_BATCH,
    derive_ids: Annotated[bool, typer.Option("--derive-ids", help="Ignore the bank's ids; derive every id.")] = False,
    detailed_types: Annotated[bool, typer.Option(
        "--detailed-types", help="Send the file's transaction types (Fee, Xfer...) instead of Credit/Debit.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be sent; send nothing.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable result on stdout.")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for each push operation.")] = 600.0,
    retry_for: Annotated[float, typer.Option("--retry-for", help="Seconds to keep retrying transient errors.")] = 600.0,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds for one HTTP request.")] = 60.0,
    state_dir: Annotated[Path | None, typer.Option(
        "--state-dir",
        help="Where the journal of what was sent is kept (default ~/.local/state/bankfeeds/publish).")] = None,
) -> None:
    """Publish bank statement files to a source account's bank feed: safe to re-run.

    The API key comes from the environment (never the command line):

    export BANKFEEDS_API_KEY="$(bankfeeds api-keys create --name publish)"

    The ids are those the API gives: GET /companies, then
    /companies/ID/connections, then .../connectionInfo/bankFeedAccounts.
    """
    err = Console(stderr=True)
    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="--format")
    if decimal_separator not in (".", ","):
        raise typer.BadParameter("expected . or ,", param_hint="--decimal-separator")
    mapping = _mapping(map_ or [], map_file)
    if not account and not mapping:
        raise typer.BadParameter("give the source account with --account (or --map for files of several accounts)",
                                 param_hint="--account")
    api_key = os.environ.get("BANKFEEDS_API_KEY", "")
    if not api_key and not dry_run:
        err.print("[red]error:[/] set BANKFEEDS_API_KEY to the API key (or use --dry-run)")
        raise typer.Exit(EXIT_BAD_INPUT)
    options = Options(
        server_url=server_url.rstrip("/"), company=company, connection=connection, account=account,
        file_account=file_account, mapping=mapping, fmt=fmt,
        csv=CsvOptions(columns=_columns(csv_columns), date_format=date_format, decimal=decimal_separator,
                       delimiter=delimiter, encoding=encoding,
                       opening_balance=_decimal(opening_balance, "--opening-balance"),
                       closing_balance=_decimal(closing_balance, "--closing-balance")),
        batch_size=batch_size, dry_run=dry_run, after=after, use_bank_ids=not derive_ids,
        detailed_types=detailed_types, wait_timeout=wait, state_dir=state_dir or default_directory(),
    )
    client = None if dry_run else BankFeedsClient(options.server_url, api_key, timeout=timeout,
                                                  retry=RetryPolicy(budget=retry_for))
    paths = [str(f) for f in files]
    try:
        if json_output or (not sys.stderr.isatty() and os.environ.get("BANKFEEDS_PROGRESS") != "1"):
            result = Publisher(options, client).run(paths)
        else:
            with RichReporter(err, paths) as reporter:
                result = Publisher(options, client, reporter).run(paths)
    finally:
        if client is not None:
            client.close()
    if json_output:
        out: dict[str, Any] = result.to_json()
        typer.echo(jsonutil.dumps(out))
    else:
        _summary(Console(), result)
    raise typer.Exit(result.exit_code)
