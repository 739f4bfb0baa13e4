"""CSV exports: a column mapping (given, or guessed from the header), date formats and decimal
separators as options.

Columns: ``date``, ``description``, and either ``amount`` (signed) or ``debit`` and ``credit``;
optionally ``balance`` (the running balance after the row), ``id``, ``counterparty``, ``reference``.
A column is named by its header text or by its 1-based position. Without a mapping the header row
is looked for in the first 20 rows and each column recognised by common names (English, French,
German, Dutch). Dates: one format for the whole file, given or guessed (refused when more than one
format reads every date, e.g. 01/02/2026). Exports listed newest first are turned around.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from bankfeeds.publish.model import Balance, Entry, MalformedFile, ParsedFile, Statement
from bankfeeds.publish.parsers.common import sign_type, squash

FIELDS = ("date", "description", "amount", "debit", "credit", "balance", "id", "counterparty", "reference")
SYNONYMS: dict[str, tuple[str, ...]] = {
    "date": ("date", "booking date", "transaction date", "posting date", "posted date", "date posted",
             "booked", "buchungstag", "buchungsdatum", "datum", "date operation", "date de l operation",
             "boekdatum", "trans date"),
    "description": ("description", "details", "narrative", "transaction description", "memo", "text",
                    "verwendungszweck", "libelle", "omschrijving", "particulars", "transaction details"),
    "amount": ("amount", "transaction amount", "betrag", "montant", "bedrag", "value", "umsatz"),
    "debit": ("debit", "debits", "withdrawal", "withdrawals", "money out", "paid out", "soll", "debit amount"),
    "credit": ("credit", "credits", "deposit", "deposits", "money in", "paid in", "haben", "credit amount"),
    "balance": ("balance", "running balance", "saldo", "kontostand", "solde", "account balance"),
    "id": ("id", "transaction id", "fitid", "transaction reference id"),
    "counterparty": ("counterparty", "payee", "payer", "beneficiary", "name", "payee name",
                     "beguenstigter", "auftraggeber", "tegenrekening naam", "naam"),
    "reference": ("reference", "ref", "check number", "cheque number", "customer reference"),
}
DATE_FORMATS = (
    "%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d", "%d/%m/%y", "%m/%d/%y",
    "%d.%m.%y", "%Y%m%d", "%d %b %Y", "%d-%b-%Y", "%b %d, %Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
)


@dataclass
class CsvOptions:
    # field -> header text or 1-based column number
    columns: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    decimal: str = "."
    delimiter: str | None = None
    encoding: str | None = None
    opening_balance: Decimal | None = None
    closing_balance: Decimal | None = None
    currency: str | None = None


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", re.sub(r"\(.*?\)", "", text.lower())).strip()


def parse_amount(text: str, decimal: str) -> Decimal:
    """A money amount in the given decimal convention; thousands separators and signs tolerated."""
    t = text.strip().replace("\u00a0", "").replace(" ", "").replace("'", "")
    t = re.sub(r"^[A-Z]{3}|[A-Z]{3}$|[$€£¥]", "", t)
    negative = False
    if t.startswith("(") and t.endswith(")"):
        negative, t = True, t[1:-1]
    if t.endswith("-"):
        negative, t = True, t[:-1]
    if t.startswith(("-", "+")):
        negative, t = (t[0] == "-") != negative, t[1:]
    thousands = "," if decimal == "." else "."
    pattern = rf"^(\d{{1,3}}(\{thousands}\d{{3}})+|\d+)(\{decimal}\d+)?$"
    if not re.match(pattern, t):
        raise InvalidOperation(text)
    value = Decimal(t.replace(thousands, "").replace(decimal, "."))
    return -value if negative else value


def _decode(raw: bytes, encoding: str | None) -> str:
    if encoding:
        return raw.decode(encoding)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _sniff(text: str, given: str | None) -> str:
    if given:
        return "\t" if given in ("\\t", "tab") else given
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _match_columns(header: list[str], given: dict[str, str]) -> dict[str, int]:
    names = [_norm(h) for h in header]
    found: dict[str, int] = {}
    for fld, ref in given.items():
        if ref.isdigit():
            found[fld] = int(ref) - 1
        elif _norm(ref) in names:
            found[fld] = names.index(_norm(ref))
    if given:
        return found
    for fld in FIELDS:
        for i, n in enumerate(names):
            if n in SYNONYMS[fld] and i not in found.values():
                found[fld] = i
                break
    return found


def _usable(cols: dict[str, int]) -> bool:
    return "date" in cols and ("amount" in cols or ("debit" in cols and "credit" in cols))


def _parse_date(text: str, fmt: str) -> datetime:
    return datetime.strptime(text.strip(), fmt)


def _guess_format(path: str, cells: list[tuple[int, str]]) -> str:
    """The one known format that reads every date; otherwise name the cell that breaks the best one."""
    failures: dict[str, tuple[int, tuple[int, str]]] = {}
    for fmt in DATE_FORMATS:
        bad = 0
        first_bad: tuple[int, str] | None = None
        for line, cell in cells:
            try:
                _parse_date(cell, fmt)
            except ValueError:
                bad += 1
                first_bad = first_bad or (line, cell)
        if first_bad is not None:
            failures[fmt] = (bad, first_bad)
    fitting = [fmt for fmt in DATE_FORMATS if fmt not in failures]
    if not fitting:
        best = min(failures, key=lambda f: failures[f][0])
        line, cell = failures[best][1]
        raise MalformedFile(path, f"a date like the others ({best}), or pass --date-format", line=line,
                            element="date", found=cell)
    if len(fitting) > 1:
        raise MalformedFile(path, f"one date format, but {' and '.join(fitting)} both read every date; "
                            "pass --date-format", element="date", found=cells[0][1])
    return fitting[0]


def parse(path: str | Path, options: CsvOptions | None = None, raw: bytes | None = None) -> ParsedFile:
    opts = options or CsvOptions()
    name = str(path)
    data = raw if raw is not None else Path(path).read_bytes()
    try:
        text = _decode(data, opts.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise MalformedFile(name, f"text in {opts.encoding}", found=str(exc)[:80]) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff(text, opts.delimiter))
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise MalformedFile(name, "well-formed CSV", line=reader.line_num, found=str(exc)) from None
    if opts.columns:
        unknown = set(opts.columns) - set(FIELDS)
        if unknown:
            raise MalformedFile(name, f"column fields among {', '.join(FIELDS)}", found=", ".join(sorted(unknown)))
    header_at, cols = -1, {}
    if opts.columns and all(ref.isdigit() for ref in opts.columns.values()):
        # Columns by position: the first row is a header only when its date cell holds no digit.
        cols = _match_columns([], opts.columns)
        first_row = rows[0][1] if rows else []
        head = first_row[cols["date"]] if "date" in cols and cols["date"] < len(first_row) else ""
        header_at = -1 if re.search(r"\d", head) else 0
    else:
        for i, (_, row) in enumerate(rows[:20]):
            candidate = _match_columns(row, opts.columns)
            if _usable(candidate):
                header_at, cols = i, candidate
                break
    if not _usable(cols):
        raise MalformedFile(name, "a header row naming a date column and an amount column (or debit and "
                            "credit), or a --csv-columns mapping", line=rows[0][0] if rows else 1)
    body = [(n, r) for n, r in rows[header_at + 1:] if any(c.strip() for c in r)]
    if not body:
        raise MalformedFile(name, "at least one transaction row after the header",
                            line=rows[header_at][0] if header_at >= 0 else 1)
    width = max(cols.values()) + 1

    def cell(fld: str, line: int, row: list[str]) -> str:
        if fld not in cols:
            return ""
        if cols[fld] >= len(row):
            raise MalformedFile(name, f"at least {width} columns", line=line, element=fld,
                                found=f"{len(row)} columns")
        return row[cols[fld]].strip()

    fmt = opts.date_format or _guess_format(name, [(n, cell("date", n, r)) for n, r in body])
    entries: list[Entry] = []
    for line, row in body:
        raw_date = cell("date", line, row)
        try:
            when = _parse_date(raw_date, fmt)
        except ValueError:
            raise MalformedFile(name, f"a date in the format {fmt}", line=line, element="date",
                                found=raw_date) from None

        def money(fld: str, raw_value: str, line: int = line) -> Decimal:
            try:
                return parse_amount(raw_value, opts.decimal)
            except InvalidOperation:
                sep = "a dot" if opts.decimal == "." else "a comma"
                raise MalformedFile(name, f"an amount with {sep} as decimal separator", line=line, element=fld,
                                    found=raw_value) from None

        if "amount" in cols:
            amount = money("amount", cell("amount", line, row))
        else:
            debit, credit = cell("debit", line, row), cell("credit", line, row)
            if bool(debit) == bool(credit):
                raise MalformedFile(name, "one of the debit and credit columns filled", line=line,
                                    element="debit/credit", found=f"debit={debit!r} credit={credit!r}")
            amount = -abs(money("debit", debit)) if debit else abs(money("credit", credit))
        balance_text = cell("balance", line, row)
        balance = money("balance", balance_text) if balance_text else None
        description = (squash(cell("description", line, row)) or squash(cell("counterparty", line, row))
                       or sign_type(amount))
        entries.append(Entry(
            booked=when.date(), at=when.time() if when.time() != time(0) else None, amount=amount,
            description=description, line=line, counterparty=cell("counterparty", line, row) or None,
            reference=cell("reference", line, row) or None, bank_id=cell("id", line, row) or None,
            kind=sign_type(amount), balance=balance,
        ))
    if len(entries) > 1 and entries[0].when > entries[-1].when:
        if any(a.when < b.when for a, b in itertools.pairwise(entries)):
            raise MalformedFile(name, "rows in date order (oldest or newest first)", line=entries[0].line)
        entries.reverse()
    stmt = Statement(file=name, format="csv", account="", currency=opts.currency, line=body[0][0], entries=entries)
    first_day: date = entries[0].booked
    if entries[0].balance is not None:
        stmt.opening = Balance(entries[0].balance - entries[0].amount, first_day, entries[0].line)
    elif opts.opening_balance is not None:
        stmt.opening = Balance(opts.opening_balance, first_day, None)
    if opts.closing_balance is not None:
        stmt.closing = Balance(opts.closing_balance, entries[-1].booked, None)
    elif entries[-1].balance is not None:
        stmt.closing = Balance(entries[-1].balance, entries[-1].booked, entries[-1].line)
    return ParsedFile(name, "csv", [stmt])
