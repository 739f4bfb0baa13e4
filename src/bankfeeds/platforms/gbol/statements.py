"""A push, as Xero's ``Statement``: no database, no HTTP.

One statement per push, its balances chained from the push's own transactions (they are in
chronological order and each carries the balance after it, as Codat's Xero rules require):

* ``startBalance`` = the first transaction's balance minus its amount; ``endBalance`` = the
  last one's balance; ``startDate``/``endDate`` = the first and last transaction's day;
* each transaction is a ``StatementLine``: ``transactionId`` (Xero's duplicate detection),
  ``postedDate`` (the day, as the bank gave it), ``description``, ``payeeName`` (counterparty),
  ``reference``, ``transactionType``, and the amount *unsigned* with ``CREDIT`` for money in and
  ``DEBIT`` for money out, from the customer's view (Xero: "from the perspective of the customer").

Balances use the same convention: a positive balance is ``CREDIT``. Amounts go out exact, at
Xero's four decimal places (``decimal(19,4)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

FOUR_PLACES = Decimal("0.0001")
# Xero's lengths (xero-bankfeeds.yaml): longer text is cut rather than refused by Xero.
MAX_DESCRIPTION = 2000
MAX_PAYEE = 255
MAX_REFERENCE = 255
MAX_TRANSACTION_TYPE = 30


@dataclass(frozen=True)
class Line:
    transaction_id: str
    date: datetime
    description: str | None
    counterparty: str | None
    reference: str | None
    amount: Decimal
    balance: Decimal
    transaction_type: str | None


def money(value: Decimal) -> dict[str, Any]:
    """``{amount, creditDebitIndicator}`` of a signed value."""
    return {"amount": abs(value).quantize(FOUR_PLACES), "creditDebitIndicator": "CREDIT" if value >= 0 else "DEBIT"}


def _text(value: str | None, limit: int) -> str | None:
    if value is None or not value.strip():
        return None
    return value[:limit]


def build(feed_connection_id: str, lines: Sequence[Line]) -> dict[str, Any]:
    """The ``Statement`` for one push (``lines`` in the order they were pushed; at least one)."""
    if not lines:
        raise ValueError("a statement needs at least one line")
    first, last = lines[0], lines[-1]
    statement_lines = []
    for line in lines:
        item: dict[str, Any] = {
            "postedDate": line.date.date().isoformat(),
            "amount": abs(line.amount).quantize(FOUR_PLACES),
            "creditDebitIndicator": "CREDIT" if line.amount >= 0 else "DEBIT",
            "transactionId": line.transaction_id,
        }
        for key, value in (
            ("description", _text(line.description, MAX_DESCRIPTION)),
            ("payeeName", _text(line.counterparty, MAX_PAYEE)),
            ("reference", _text(line.reference, MAX_REFERENCE)),
            ("transactionType", _text(line.transaction_type, MAX_TRANSACTION_TYPE)),
        ):
            if value is not None:
                item[key] = value
        statement_lines.append(item)
    return {
        "feedConnectionId": feed_connection_id,
        "startDate": first.date.date().isoformat(),
        "endDate": last.date.date().isoformat(),
        "startBalance": money(first.balance - first.amount),
        "endBalance": money(last.balance),
        "statementLines": statement_lines,
    }


def errors_of(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """Xero's ``errors`` of a rejected statement, as given."""
    raw = statement.get("errors")
    return [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
