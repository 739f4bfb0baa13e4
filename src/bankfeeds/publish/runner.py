"""``publish`` end to end: read every file, plan per source account, send, report.

Nothing is sent before every file has been read and every statement checked, and a file that fails
either contributes nothing. Per account, batches go out one at a time in chronological order; each
is written to the journal before it is sent and marked done once its push operation has finished.
A batch that fails stops that account: sending later (newer) batches would make the failed
transactions "older than what the account holds" and leave a gap for good.
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from bankfeeds.publish.balances import Settled, settle
from bankfeeds.publish.client import ApiError, BankFeedsClient, PushOperation, dumps
from bankfeeds.publish.journal import Journal, JournalBusy, JournalState
from bankfeeds.publish.model import MalformedFile, ParsedFile, paused_gc
from bankfeeds.publish.parsers import CsvOptions, parse_file
from bankfeeds.publish.plan import MAX_BATCH, AccountPlan, Outgoing, collect, schedule

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_BAD_INPUT = 2
EXIT_FAILED = 3


@dataclass
class Options:
    server_url: str
    company: str
    connection: str
    account: str | None = None
    file_account: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    fmt: str | None = None
    csv: CsvOptions = field(default_factory=CsvOptions)
    batch_size: int = MAX_BATCH
    dry_run: bool = False
    after: datetime | None = None
    use_bank_ids: bool = True
    detailed_types: bool = False
    wait_timeout: float = 600.0
    state_dir: Path = Path(".")


@dataclass
class FileReport:
    path: str
    format: str | None = None
    error: MalformedFile | None = None
    accounts: dict[str, str] = field(default_factory=dict)  # account in the file -> source account
    unselected: list[str] = field(default_factory=list)
    not_booked: int = 0
    read: int = 0
    duplicate_in_input: int = 0
    already_sent: int = 0
    older: int = 0
    to_send: int = 0
    published: int = 0
    failed: int = 0
    pending: int = 0
    not_sent: int = 0

    @property
    def skipped(self) -> int:
        return self.duplicate_in_input + self.already_sent + self.older

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path, "format": self.format, "status": "refused" if self.error else "read",
            "error": self.error.to_json() if self.error else None, "accounts": self.accounts,
            "unselectedAccounts": self.unselected, "notBooked": self.not_booked, "read": self.read,
            "skipped": {"total": self.skipped, "duplicateInInput": self.duplicate_in_input,
                        "alreadySent": self.already_sent, "olderThanAccount": self.older},
            "toSend": self.to_send, "published": self.published, "failed": self.failed, "pending": self.pending,
            "notSent": self.not_sent,
        }


@dataclass
class AccountReport:
    account: str
    batches_planned: int = 0
    batches_done: int = 0
    resolved_open: int = 0
    stopped: str | None = None
    pending: list[str] = field(default_factory=list)
    journal: str | None = None
    final_balance: str | None = None
    plan: AccountPlan | None = None

    def to_json(self, with_plan: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "account": self.account, "batchesPlanned": self.batches_planned, "batchesDone": self.batches_done,
            "resolvedFromEarlierRun": self.resolved_open, "stopped": self.stopped,
            "pendingPushOperations": self.pending, "journal": self.journal, "finalBalance": self.final_balance,
        }
        if with_plan and self.plan is not None:
            data["batches"] = [
                {"count": len(b), "from": b[0].date_text, "to": b[-1].date_text, "closingBalance": b[-1].balance,
                 "transactions": [o.wire() for o in b]}
                for b in self.plan.batches
            ]
        return data


@dataclass
class Result:
    files: list[FileReport]
    accounts: list[AccountReport] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    fatal: str | None = None
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if any(f.error for f in self.files):
            return EXIT_BAD_INPUT
        published = sum(f.published for f in self.files)
        troubled = self.fatal or any(a.stopped for a in self.accounts) or any(
            f.failed or f.not_sent or f.pending for f in self.files)
        if not troubled:
            return EXIT_OK
        return EXIT_PARTIAL if published else EXIT_FAILED

    def to_json(self) -> dict[str, Any]:
        totals = {k: sum(getattr(f, k) for f in self.files)
                  for k in ("read", "skipped", "published", "failed", "pending", "not_sent")}
        return {
            "dryRun": self.dry_run, "exitCode": self.exit_code, "fatal": self.fatal,
            "totals": {"read": totals["read"], "skipped": totals["skipped"], "published": totals["published"],
                       "failed": totals["failed"], "pending": totals["pending"], "notSent": totals["not_sent"]},
            "files": [f.to_json() for f in self.files],
            "accounts": [a.to_json(self.dry_run) for a in self.accounts],
            "failures": self.failures, "notes": self.notes, "timings": self.timings,
        }


class Reporter(Protocol):
    def parsing(self, index: int, path: str) -> None: ...
    def parsed(self, index: int, report: FileReport) -> None: ...
    def planned(self, index: int, to_send: int, batches: int) -> None: ...
    def batch_done(self, account: str, number: int, total: int, per_file: dict[int, int]) -> None: ...
    def note(self, message: str) -> None: ...


class SilentReporter:
    def parsing(self, index: int, path: str) -> None:
        pass

    def parsed(self, index: int, report: FileReport) -> None:
        pass

    def planned(self, index: int, to_send: int, batches: int) -> None:
        pass

    def batch_done(self, account: str, number: int, total: int, per_file: dict[int, int]) -> None:
        pass

    def note(self, message: str) -> None:
        pass


class Publisher:
    def __init__(self, options: Options, client: BankFeedsClient | None, reporter: Reporter | None = None) -> None:
        self.o = options
        self.client = client
        self.r: Reporter = reporter or SilentReporter()
        self.notes: list[str] = []

    def _note(self, message: str) -> None:
        self.notes.append(message)
        self.r.note(message)

    # -- reading ----------------------------------------------------------------------------
    def _select(self, parsed: ParsedFile, report: FileReport) -> None:
        o = self.o
        accounts = parsed.accounts
        for acct in accounts:
            if acct in o.mapping:
                report.accounts[acct] = o.mapping[acct]
            elif o.file_account is not None:
                if acct == o.file_account and o.account:
                    report.accounts[acct] = o.account
            elif o.account and len([a for a in accounts if a not in o.mapping]) == 1:
                report.accounts[acct] = o.account
        report.unselected = [a for a in accounts if a not in report.accounts]
        if not report.accounts:
            shown = ", ".join(a or "(unnamed)" for a in accounts)
            if len(accounts) > 1 and o.account and not o.file_account:
                expected = "one account per file, or --file-account to pick one, or --map ACCOUNT=SOURCE_ID for each"
            else:
                expected = "an account chosen by --account, --file-account or --map"
            raise MalformedFile(parsed.path, expected, found=f"accounts {shown}")

    def read(self, paths: list[str]) -> tuple[list[FileReport], dict[str, dict[int, list[Settled]]]]:
        reports: list[FileReport] = []
        by_account: dict[str, dict[int, list[Settled]]] = {}
        named_accounts: dict[str, set[str]] = {}
        for index, path in enumerate(paths):
            report = FileReport(path)
            reports.append(report)
            self.r.parsing(index, path)
            try:
                parsed = parse_file(path, self.o.fmt, self.o.csv)
                report.format = parsed.format
                report.not_booked = sum(s.not_booked for s in parsed.statements)
                self._select(parsed, report)
                mine: dict[str, list[Settled]] = {}
                for stmt in parsed.statements:
                    target = report.accounts.get(stmt.account)
                    if target is not None:
                        mine.setdefault(target, []).extend(settle(stmt))
            except MalformedFile as exc:
                report.error = exc
                self.r.parsed(index, report)
                continue
            for target, settled in mine.items():
                by_account.setdefault(target, {})[index] = settled
                named = {a for a, t in report.accounts.items() if t == target and a}
                seen = named_accounts.setdefault(target, set())
                if named and seen and not named & seen:
                    self._note(f"source account {target} gets transactions of {', '.join(sorted(seen | named))}: "
                                "their running balances will not follow one another")
                seen |= named
            report.read = sum(len(v) for v in mine.values())
            self.r.parsed(index, report)
        return reports, by_account

    # -- the run ----------------------------------------------------------------------------
    def run(self, paths: list[str]) -> Result:
        started = time.perf_counter()
        with paused_gc():
            files, by_account = self.read(paths)
        result = Result(files=files, dry_run=self.o.dry_run)
        result.timings["read"] = time.perf_counter() - started
        plans: dict[str, AccountPlan] = {}
        with paused_gc():
            for account, settled in by_account.items():
                plans[account] = collect(account, settled, use_bank_ids=self.o.use_bank_ids)
        result.timings["plan"] = time.perf_counter() - started - result.timings["read"]
        send_started = time.perf_counter()
        if not self.o.dry_run and self.client is not None and plans:
            result.fatal = self._check_accounts(list(plans))
        for account, plan in plans.items():
            report = AccountReport(account, plan=plan)
            result.accounts.append(report)
            if self.o.dry_run:
                with Journal.read_only(self.o.state_dir, self.o.server_url, self.o.company, self.o.connection,
                                       account) as state:
                    self._schedule(plan, state, files, report)
                continue
            if result.fatal:
                self._count_unsent(plan.incoming, files)
                report.stopped = "not attempted: " + result.fatal
                continue
            try:
                self._publish_account(plan, files, report, result)
            except JournalBusy as exc:
                report.stopped = str(exc)
                self._count_unsent(plan.incoming, files)
        result.timings["send"] = time.perf_counter() - send_started
        if self.client is not None:
            result.timings["network"] = self.client.network_seconds
            result.timings["requests"] = float(self.client.requests)
        result.timings["total"] = time.perf_counter() - started
        result.notes = self.notes
        return result

    def _check_accounts(self, accounts: list[str]) -> str | None:
        """One look at the connection's source accounts before sending anything: a wrong company,
        connection, key or account is one error, up front, instead of one refusal per batch."""
        assert self.client is not None
        try:
            listed = self.client.list_source_accounts(self.o.company, self.o.connection)
        except ApiError as exc:
            return str(exc)
        known = sorted(str(a.get("id")) for a in listed if isinstance(a, dict) and a.get("id") is not None)
        missing = [a for a in accounts if a not in known]
        if not missing:
            return None
        return (f"connection {self.o.connection} has no source account {', '.join(repr(a) for a in missing)}; "
                f"its source accounts are: {', '.join(known) or 'none yet'}")

    def _schedule(self, plan: AccountPlan, state: JournalState, files: list[FileReport],
                  report: AccountReport) -> None:
        schedule(plan, state, after=self.o.after, batch_size=self.o.batch_size)
        report.batches_planned = len(plan.batches)
        for counter, attr in ((plan.duplicate_in_input, "duplicate_in_input"), (plan.already_sent, "already_sent"),
                              (plan.older, "older")):
            for index, n in counter.items():
                setattr(files[index], attr, getattr(files[index], attr) + n)
        batches_per_file: dict[int, int] = {}
        for batch in plan.batches:
            for index in {o.file for o in batch}:
                batches_per_file[index] = batches_per_file.get(index, 0) + 1
        for o in plan.to_send:
            files[o.file].to_send += 1
        for index, f in enumerate(files):
            if f.error is None:
                self.r.planned(index, f.to_send, batches_per_file.get(index, 0))
        if plan.older:
            first = plan.older_examples[0]
            self._note(
                f"{sum(plan.older.values())} transaction(s) for {plan.account} are older than what the account "
                f"already holds ({state.newest or self.o.after}) and were never sent; they are skipped, "
                f"e.g. {first.date_text} {first.amount} {first.description!r} ({files[first.file].path}:{first.line})")
        if plan.batches:
            report.final_balance = str(plan.batches[-1][-1].balance)

    def _count_unsent(self, outgoing: list[Outgoing], files: list[FileReport]) -> None:
        for o in outgoing:
            files[o.file].not_sent += 1

    def _publish_account(self, plan: AccountPlan, files: list[FileReport], report: AccountReport,
                         result: Result) -> None:
        assert self.client is not None
        o = self.o
        with Journal(o.state_dir, o.server_url, o.company, o.connection, plan.account) as journal:
            report.journal = str(journal.path)
            if not self._resolve_open(journal, plan.account, report, result):
                open_ids = {i for b in journal.state.open.values() for i in b.ids}
                for x in plan.incoming:
                    if x.id in open_ids:
                        files[x.file].pending += 1
                    elif x.id not in journal.state.sent_ids:
                        files[x.file].not_sent += 1
                return
            self._schedule(plan, journal.state, files, report)
            for number, batch in enumerate(plan.batches, start=1):
                ok = self._send(journal, plan.account, batch, number, len(plan.batches), files, report, result)
                if not ok:
                    for later in plan.batches[number:]:
                        self._count_unsent(later, files)
                    return

    def _resolve_open(self, journal: Journal, account: str, report: AccountReport, result: Result) -> bool:
        """Finish the batches an earlier run began and did not see through. False: the account is stuck."""
        assert self.client is not None
        for open_batch in list(journal.state.open.values()):
            try:
                if open_batch.push_operation:
                    op = self.client.get_create_operation(self.o.company, open_batch.push_operation)
                else:
                    body = journal.body(open_batch.batch)
                    if body is None:
                        # The begin record is written after the body, so this is a hand-edited journal.
                        journal.done(open_batch.batch, "Lost")
                        continue
                    op = self.client.create_bank_transactions(
                        self.o.company, self.o.connection, account, body, open_batch.key,
                        on_new_key=functools.partial(journal.rekey, open_batch.batch))
                    journal.pushed(open_batch.batch, op.key)
                op = self.client.wait_for(self.o.company, op, timeout=self.o.wait_timeout)
            except ApiError as exc:
                report.stopped = f"could not finish a batch begun by an earlier run: {exc}"
                if exc.status in (401, 403):
                    result.fatal = str(exc)
                return False
            if not op.finished:
                report.pending.append(op.key)
                report.stopped = f"push operation {op.key} from an earlier run is still {op.status}"
                return False
            journal.done(open_batch.batch, op.status, op=op.key)
            report.resolved_open += 1
            if op.status != "Success":
                report.stopped = (f"push operation {op.key} from an earlier run ended {op.status}: "
                                  f"{op.error_message or ''}").strip()
                for e in op.errors:
                    result.failures.append({"account": account, "id": e.get("itemId"), "file": None, "line": None,
                                            "message": e.get("message"), "pushOperationKey": op.key})
                return False
        return True

    def _send(self, journal: Journal, account: str, batch: list[Outgoing], number: int, total: int,
              files: list[FileReport], report: AccountReport, result: Result) -> bool:
        assert self.client is not None
        body = dumps({"accountId": account, "transactions": [x.wire(self.o.detailed_types) for x in batch]})
        batch_id = str(uuid.uuid4())
        key = str(uuid.uuid4())
        journal.begin(batch_id, key, [x.id for x in batch], batch[-1].when, batch[-1].balance, body)
        try:
            op = self.client.create_bank_transactions(
                self.o.company, self.o.connection, account, body, key,
                on_new_key=lambda k: journal.rekey(batch_id, k))
        except ApiError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                # Refused outright (no push operation): nothing was written.
                journal.done(batch_id, "Rejected")
                self._fail_batch(batch, files, result, account, str(exc), None)
                report.stopped = str(exc)
                if exc.status in (401, 403):
                    result.fatal = str(exc)
            else:
                # It may or may not have landed: the batch stays open for the next run to settle.
                report.stopped = f"{exc} (the batch is kept open and settled by the next run)"
                self._count_unsent(batch, files)
            return False
        journal.pushed(batch_id, op.key)
        try:
            op = self.client.wait_for(self.o.company, op, timeout=self.o.wait_timeout)
        except ApiError as exc:
            report.stopped = f"{exc} (push operation {op.key} is checked again by the next run)"
            report.pending.append(op.key)
            self._count_unsent(batch, files)
            return False
        if not op.finished:
            report.pending.append(op.key)
            report.stopped = f"push operation {op.key} is still {op.status} after {self.o.wait_timeout:g} s"
            for x in batch:
                files[x.file].pending += 1
            return False
        journal.done(batch_id, op.status, op=op.key)
        if op.status != "Success":
            self._fail_batch(batch, files, result, account, op.error_message or op.status, op)
            report.stopped = f"push operation {op.key} ended {op.status}"
            return False
        duplicates = {w.get("itemId") for w in op.warnings if w.get("validatorName") == "Duplicate"}
        per_file: dict[int, int] = {}
        for x in batch:
            per_file[x.file] = per_file.get(x.file, 0) + 1
            if x.id in duplicates:
                files[x.file].already_sent += 1
            else:
                files[x.file].published += 1
        report.batches_done += 1
        self.r.batch_done(account, number, total, per_file)
        return True

    def _fail_batch(self, batch: list[Outgoing], files: list[FileReport], result: Result, account: str,
                    message: str, op: PushOperation | None) -> None:
        by_id = {x.id: x for x in batch}
        specific: dict[str, str] = {}
        if op is not None:
            for e in op.errors:
                item = str(e.get("itemId") or "")
                if item.startswith("transactions[") and item.endswith("]") and item[13:-1].isdigit():
                    index = int(item[13:-1])
                    item = batch[index].id if index < len(batch) else item
                if item in by_id:
                    specific[item] = str(e.get("message"))
                elif e.get("message") and str(e.get("message")) not in message:
                    # An account-wide reason the operation's own message does not already say.
                    message = f"{message}: {e.get('message')}"
        for x in batch:
            files[x.file].failed += 1
            if x.id in specific or not specific:
                result.failures.append({
                    "account": account, "id": x.id, "file": files[x.file].path, "line": x.line,
                    "date": x.date_text, "amount": str(x.amount), "description": x.description,
                    "message": specific.get(x.id, message), "pushOperationKey": op.key if op else None,
                })
