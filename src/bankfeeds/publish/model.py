"""What a statement file holds, independent of its format."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path


class MalformedFile(Exception):
    """A file that cannot be read as what it claims to be; nothing from it is sent.

    ``where`` is a line number (1-based) or an element path; ``expected`` says what was expected
    and ``found`` what was there instead.
    """

    def __init__(
        self,
        file: str | Path,
        expected: str,
        *,
        line: int | None = None,
        element: str | None = None,
        found: str | None = None,
    ) -> None:
        self.file = str(file)
        self.line = line
        self.element = element
        self.expected = expected
        self.found = found
        super().__init__(self.describe())

    def describe(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.element:
            where += f" <{self.element}>"
        text = f"{where}: expected {self.expected}"
        if self.found is not None:
            shown = self.found if len(self.found) <= 60 else self.found[:57] + "..."
            text += f", found {shown!r}"
        return text

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "element": self.element,
                "expected": self.expected, "found": self.found, "message": self.describe()}


class BalanceMismatch(MalformedFile):
    """A statement whose balances do not add up."""


@dataclass(frozen=True, slots=True)
class Balance:
    amount: Decimal
    on: date | None
    line: int | None


@dataclass(slots=True)
class Entry:
    """One booked transaction as the file gives it.

    ``booked`` is the booking date as a local date (the bank's own calendar day) and ``at`` the local
    time of day when the file gives one; Codat treats the date as local and ignores any offset.
    """

    booked: date
    amount: Decimal
    description: str
    line: int | None
    at: time | None = None
    counterparty: str | None = None
    reference: str | None = None
    # An id the bank gives the transaction and documents as unique for the account (FITID,
    # AcctSvcrRef, or a mapped CSV column); None when it gives none.
    bank_id: str | None = None
    # The format's own type, mapped to Codat's enum (Credit, Debit, Fee, Xfer, ...).
    kind: str | None = None
    # A running balance printed in the file next to the transaction (CSV exports often have one).
    balance: Decimal | None = None

    @property
    def when(self) -> datetime:
        return datetime.combine(self.booked, self.at or time(0))


@dataclass(slots=True)
class Statement:
    """The transactions of one account over one period, with the balances that frame them."""

    file: str
    format: str
    # The account as the file names it (IBAN, account number...); "" when the file names none (CSV).
    account: str
    currency: str | None
    line: int | None
    statement_id: str | None = None
    opening: Balance | None = None
    closing: Balance | None = None
    entries: list[Entry] = field(default_factory=list)
    # Entries the file lists but that are not booked (pending, information only): never sent.
    not_booked: int = 0


@dataclass(slots=True)
class ParsedFile:
    path: str
    format: str
    statements: list[Statement]

    @property
    def accounts(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.statements:
            seen.setdefault(s.account, None)
        return list(seen)

    @property
    def entry_count(self) -> int:
        return sum(len(s.entries) for s in self.statements)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while large acyclic structures are built.

    Reading 100,000 entries allocates millions of small objects and no reference cycles; with the
    collector on, each generation-2 pass rescans everything alive so far, which tripled the time.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
