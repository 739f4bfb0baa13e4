"""The rules a platform applies to a create-bank-transactions batch, with no database in sight.

``check_batch`` takes the parsed transactions and the clock's "now" and returns the errors, the
warnings and the transactions to store; ``older_than_newest``, ``too_old`` and ``already_written``
cover what depends on the account's stored transactions (decided as the batch is inserted). Each
finding is a Codat ``validationItem`` whose ``itemId`` is the transaction's id (``transactions[i]``
when it has none).

Dates are local date-times (Codat ignores any offset), so "now" has no single local value: a date
is in the future only when it is later than the local time in the earliest zone on Earth
(UTC+14), and a Xero date is more than a year old only when its calendar day is more than
``max_age_days`` before today's UTC day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Protocol

from bankfeeds.errors import ValidationItem
from bankfeeds.platforms.base import Platform

# Codat's bank transaction type enum (OFX TRNTYPE values).
TRANSACTION_TYPES: tuple[str, ...] = (
    "Unknown", "Credit", "Debit", "Int", "Div", "Fee", "SerChg", "Dep", "Atm", "Pos", "Xfer", "Check",
    "Payment", "Cash", "DirectDep", "DirectDebit", "RepeatPmt", "Other",
)
# Types whose direction is unambiguous: money in (amount >= 0) or money out (amount <= 0).
MONEY_IN = frozenset({"Credit", "Dep", "DirectDep", "Int", "Div"})
MONEY_OUT = frozenset({"Debit", "Fee", "SerChg", "DirectDebit", "RepeatPmt"})

# The local time anywhere on Earth is at most this far ahead of UTC (Line Islands, UTC+14).
EARLIEST_ZONE_AHEAD = timedelta(hours=14)

# Wire name -> attribute of the parsed transaction.
_ATTRIBUTES = {
    "id": "id", "date": "date", "description": "description", "counterparty": "counterparty",
    "reference": "reference", "reconciled": "reconciled", "amount": "amount", "balance": "balance",
    "transactionType": "transaction_type",
}
_TEXT_FIELDS = frozenset({"id", "description", "counterparty", "reference"})
# Storage needs these whatever the platform says.
ALWAYS_REQUIRED = ("id", "date", "amount")


class Transaction(Protocol):
    """A transaction as written (the parsed wire item): what the rules check and storage reads."""

    @property
    def id(self) -> str | None: ...
    @property
    def date(self) -> datetime | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def counterparty(self) -> str | None: ...
    @property
    def reference(self) -> str | None: ...
    @property
    def reconciled(self) -> bool | None: ...
    @property
    def amount(self) -> Decimal | None: ...
    @property
    def balance(self) -> Decimal | None: ...
    @property
    def transaction_type(self) -> str | None: ...


@dataclass
class Verdict:
    errors: list[ValidationItem] = field(default_factory=list)
    warnings: list[ValidationItem] = field(default_factory=list)
    # Indexes (into the batch) of the transactions to store, in the batch's order.
    new: list[int] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def required_fields(platform: Platform) -> tuple[str, ...]:
    extra = tuple(f for f in platform.required_fields if f not in ALWAYS_REQUIRED)
    return ALWAYS_REQUIRED + extra


def latest_local_now(now: datetime) -> datetime:
    """The latest local date-time that is not in the future somewhere: naive, UTC+14."""
    return (now + EARLIEST_ZONE_AHEAD).replace(tzinfo=None)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, str) and (not value or value.isspace()))


def check_batch(platform: Platform, txns: Sequence[Transaction], *, now: datetime) -> Verdict:
    """Apply ``platform``'s rules that need nothing stored (see the module docstring).

    ``new`` lists the first occurrence of each id; a repeat within the batch is skipped with a
    warning. Whether an id is already stored, and the newest-date rule that depends on it, are
    decided when the batch is stored (``older_than_newest``).
    """
    verdict = Verdict()
    errors, warnings = verdict.errors, verdict.warnings
    required = [(name, _ATTRIBUTES[name]) for name in required_fields(platform)]
    # One C call fetches every required value; the per-field check runs only when one is missing.
    fetch = attrgetter(*(attr for _, attr in required))
    text_fields = [i for i, (name, _) in enumerate(required) if name in _TEXT_FIELDS]
    allowed_types = platform.transaction_types
    future_after = latest_local_now(now)
    oldest_day = (now.date() - timedelta(days=platform.max_age_days)) if platform.max_age_days else None
    seen: set[str] = set()
    previous: datetime | None = None

    for index, txn in enumerate(txns):
        tid = txn.id
        has_id = tid is not None and not _missing(tid)
        label = tid if has_id else f"transactions[{index}]"
        values = fetch(txn)
        # Truthiness, not ``None in values``: that compares each Decimal with None, and Decimal's
        # comparison asks numbers.Rational (an ABC) about None, twice a transaction. A falsy value
        # that is there (an amount of 0) only sends the transaction to the exact check below.
        missing = not all(values)
        if not missing:
            for i in text_fields:
                if values[i].isspace():
                    missing = True
                    break
        if missing:
            for (name, _), value in zip(required, values, strict=True):
                if _missing(value):
                    errors.append(ValidationItem(label, f"'{name}' is required by {platform.name}.", "Required"))
        ttype = txn.transaction_type
        if ttype is not None:
            if allowed_types is not None and ttype not in allowed_types:
                errors.append(ValidationItem(
                    label,
                    f"transactionType '{ttype}' is not supported by {platform.name}; "
                    f"use one of {', '.join(allowed_types)}.",
                    "TransactionType",
                ))
            amount = txn.amount
            if amount is not None and (
                (amount < 0 and ttype in MONEY_IN) or (amount > 0 and ttype in MONEY_OUT)
            ):
                warnings.append(ValidationItem(
                    label,
                    f"The amount {amount} has the opposite sign to transactionType '{ttype}'; "
                    "it is stored as sent (positive is money in, negative money out).",
                    "AmountSign",
                ))
        when = txn.date
        if when is not None:
            if when > future_after:
                errors.append(ValidationItem(
                    label, f"The date {when.isoformat()} is in the future; future-dated transactions "
                    "cannot be written.", "FutureDate"))
            if oldest_day is not None and when.date() < oldest_day:
                errors.append(ValidationItem(
                    label, f"The date {when.isoformat()} is more than {platform.max_age_days} days old; "
                    f"{platform.name} does not accept it.", "MaxAge"))
            if previous is not None and when < previous:
                errors.append(ValidationItem(
                    label, f"The date {when.isoformat()} is earlier than the transaction before it "
                    f"({previous.isoformat()}); transactions must be in chronological order.",
                    "Chronological"))
            previous = when
        if not has_id or tid is None:
            continue
        if tid in seen:
            warnings.append(ValidationItem(
                label, f"Transaction {tid} appears more than once in this request; only the first "
                "was written.", "Duplicate"))
            continue
        seen.add(tid)
        verdict.new.append(index)
    return verdict


def older_than_newest(
    txns: Sequence[Transaction], indexes: Sequence[int], newest_stored: datetime | None
) -> list[int]:
    """Which of ``indexes`` are dated before the newest transaction already written to the account."""
    if newest_stored is None:
        return []
    return [i for i in indexes if (when := txns[i].date) is not None and when < newest_stored]


def too_old(txns: Sequence[Transaction], indexes: Sequence[int], newest_stored: datetime) -> list[ValidationItem]:
    """The errors for new transactions older than the account's newest (QuickBooks' and Xero's rule)."""
    items = []
    for i in indexes:
        txn = txns[i]
        assert txn.date is not None and txn.id is not None
        items.append(ValidationItem(
            txn.id, f"The date {txn.date.isoformat()} is older than the newest transaction already written "
            f"to this account ({newest_stored.isoformat()}).", "NotOlderThanNewest"))
    return items


def already_written(txns: Sequence[Transaction], indexes: Sequence[int]) -> list[ValidationItem]:
    """The warnings for transactions skipped because their id is already stored for the account."""
    return [
        ValidationItem(tid, f"Transaction {tid} has already been written to this account; it was skipped.",
                       "Duplicate")
        for i in indexes
        if (tid := txns[i].id) is not None
    ]


@dataclass(frozen=True)
class FieldRule:
    """How a platform treats one transaction field: what get-create-bank-transactions-model shows."""

    name: str
    type: str  # PushOption type: String | Number | Boolean | DateTime
    display_name: str
    description: str
    required: bool
    options: tuple[str, ...] | None = None
    information: tuple[str, ...] = ()


_FIELD_DOCS: tuple[tuple[str, str, str, str], ...] = (
    ("id", "String", "Id", "Identifier of the transaction, unique for the source account. A transaction whose "
     "id was already written to the account is skipped with a warning."),
    ("date", "DateTime", "Date", "Local date-time the transaction cleared, e.g. 2023-08-22T10:21:00 or 2023-08-22. "
     "Used as given: a timezone offset is ignored."),
    ("description", "String", "Description", "Description of the bank transaction."),
    ("counterparty", "String", "Counterparty", "The giving or receiving party."),
    ("reference", "String", "Reference", "A reference for the transaction."),
    ("reconciled", "Boolean", "Reconciled", "True if the transaction has been reconciled."),
    ("amount", "Number", "Amount", "Signed amount: positive is money in, negative is money out."),
    ("balance", "Number", "Balance", "Balance of the account after this transaction. The last transaction's "
     "balance becomes the account's balance."),
    ("transactionType", "String", "Transaction type", "Type of the bank statement line."),
)


def field_rules(platform: Platform) -> list[FieldRule]:
    required = set(required_fields(platform))
    rules = []
    for name, kind, display, description in _FIELD_DOCS:
        info: list[str] = []
        options = None
        if name in platform.ignored_fields:
            info.append(f"Accepted but not used by {platform.name}.")
        if name == "transactionType":
            options = platform.transaction_types or TRANSACTION_TYPES
            info.append("A mismatch between the amount's sign and the type is reported as a warning.")
        if name == "date":
            info.append("Transactions must be in chronological order, not older than the newest transaction "
                        "already written to the account, and not in the future.")
            if platform.max_age_days:
                info.append(f"Not more than {platform.max_age_days} days old.")
        rules.append(FieldRule(name, kind, display, description, name in required, options, tuple(info)))
    return rules
