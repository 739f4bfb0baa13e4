"""Running balances: computed from the statement's own balances, and checked against them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bankfeeds.publish.model import BalanceMismatch, Entry, MalformedFile, Statement


@dataclass(frozen=True, slots=True)
class Settled:
    entry: Entry
    balance: Decimal


def chronological(entries: list[Entry]) -> list[Entry]:
    """Booking order: by local date and time, the file's order within the same instant."""
    return sorted(entries, key=lambda e: e.when)


def settle(stmt: Statement) -> list[Settled]:
    """Each booked entry with the balance after it, in chronological order.

    The start is the opening balance, or the closing balance less every entry when the file gives
    only a closing one (OFX). A file that gives both must add up, and so must every running balance
    it prints; otherwise the statement is refused, naming the lines.
    """
    entries = chronological(stmt.entries)
    total = sum((e.amount for e in entries), Decimal(0))
    if stmt.opening is not None:
        start = stmt.opening.amount
        if stmt.closing is not None and start + total != stmt.closing.amount:
            where = f"line {stmt.opening.line}" if stmt.opening.line else "given"
            raise BalanceMismatch(
                stmt.file,
                f"the closing balance to be the opening balance {start} ({where}) plus the "
                f"{len(entries)} booked entries ({total:+}), that is {start + total}",
                line=stmt.closing.line or stmt.line, element="closing balance", found=str(stmt.closing.amount),
            )
    elif stmt.closing is not None:
        start = stmt.closing.amount - total
    else:
        raise MalformedFile(
            stmt.file, "an opening or closing balance for the statement (CSV: a balance column, "
            "--opening-balance or --closing-balance)", line=stmt.line,
            element=f"statement of {stmt.account}" if stmt.account else None,
        )
    settled: list[Settled] = []
    running = start
    for e in entries:
        running += e.amount
        if e.balance is not None and e.balance != running:
            raise BalanceMismatch(
                stmt.file, f"the running balance to be {running} (previous balance plus {e.amount})",
                line=e.line, element="balance", found=str(e.balance),
            )
        settled.append(Settled(e, running))
    return settled
