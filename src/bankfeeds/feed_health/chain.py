"""The balance chain: each transaction's balance is the previous balance plus its amount.

Pure functions over ``Link`` rows in the order they were written. The first break is classified:

* **duplicate**: the bank sent the same movement twice (same amount, and the running balance did
  not move: the second copy carries the first one's balance);
* **reorder**: this transaction and the next one fit the chain once swapped (two movements of
  the same moment sent in the wrong order);
* **gap**: anything else, typically a transaction the bank never sent (``difference`` is what is
  missing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import NamedTuple

GAP, DUPLICATE, REORDER = "gap", "duplicate", "reorder"


class Link(NamedTuple):
    """One transaction in the chain. A plain ``(transaction_id, amount, balance)`` tuple serves as
    well: a push checks its 1000 rows without building a Link for each."""

    transaction_id: str
    amount: Decimal
    balance: Decimal | None


Row = tuple[str, Decimal, Decimal | None]


@dataclass(frozen=True)
class Break:
    kind: str
    previous_transaction_id: str
    transaction_id: str
    expected_balance: Decimal
    balance: Decimal

    @property
    def difference(self) -> Decimal:
        return self.balance - self.expected_balance


def first_break(links: Sequence[Row], previous: Row | None = None) -> Break | None:
    """The first break in ``links`` (chained after ``previous`` when given), or None."""
    chain = links if previous is None else [previous, *links]
    for i, ((prev_id, prev_amount, prev_balance), (cur_id, amount, balance)) in enumerate(pairwise(chain), 1):
        if prev_balance is None or balance is None:
            continue
        expected = prev_balance + amount
        if expected == balance:
            continue
        kind = GAP
        if amount == prev_amount and balance == prev_balance:
            kind = DUPLICATE
        elif i + 1 < len(chain):
            _, next_amount, next_balance = chain[i + 1]
            if next_balance is not None and prev_balance + next_amount == next_balance \
                    and next_balance + amount == balance:
                kind = REORDER
        return Break(kind, prev_id, cur_id, expected, balance)
    return None


def describe(found: Break) -> str:
    if found.kind == DUPLICATE:
        return (f"Transaction {found.transaction_id} repeats {found.previous_transaction_id}: same amount and the "
                f"balance did not move ({found.balance}). The bank may have sent it twice.")
    if found.kind == REORDER:
        return (f"Transaction {found.transaction_id} and the one after it are in the wrong order: their balances "
                f"only follow {found.previous_transaction_id} when swapped.")
    return (f"The balance of transaction {found.transaction_id} ({found.balance}) does not follow "
            f"{found.previous_transaction_id}: expected {found.expected_balance}, a difference of "
            f"{found.difference}. A transaction may be missing.")
