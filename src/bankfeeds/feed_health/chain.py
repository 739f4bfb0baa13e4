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

from dataclasses import dataclass
from decimal import Decimal

GAP, DUPLICATE, REORDER = "gap", "duplicate", "reorder"


@dataclass(frozen=True)
class Link:
    transaction_id: str
    amount: Decimal
    balance: Decimal | None


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


def first_break(links: list[Link], previous: Link | None = None) -> Break | None:
    """The first break in ``links`` (chained after ``previous`` when given), or None."""
    chain = ([previous] if previous is not None else []) + links
    for i in range(1, len(chain)):
        prev, cur = chain[i - 1], chain[i]
        if prev.balance is None or cur.balance is None:
            continue
        expected = prev.balance + cur.amount
        if expected == cur.balance:
            continue
        kind = GAP
        if cur.amount == prev.amount and cur.balance == prev.balance:
            kind = DUPLICATE
        elif i + 1 < len(chain):
            nxt = chain[i + 1]
            if nxt.balance is not None and prev.balance + nxt.amount == nxt.balance \
                    and nxt.balance + cur.amount == cur.balance:
                kind = REORDER
        return Break(kind, prev.transaction_id, cur.transaction_id, expected, cur.balance)
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
