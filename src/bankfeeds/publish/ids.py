"""Deterministic transaction ids, so the same transaction gets the same id on every run.

An id must be unique for the company in the accounting software, so every id is tied to the
source account it is published to. Where the bank gives an id documented as unique for the
account (OFX FITID, camt AcctSvcrRef, a mapped CSV column) it is used; otherwise the id is derived
from the booking date, the amount, the description and the position of the transaction among those
of the same day with the same amount and description (two identical coffees on one day get
different ids; a transaction added earlier in the day does not shift the others).

Ids are rendered as UUIDs (Codat's IDX API types transaction ids as uuid).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from bankfeeds.publish.model import Entry
from bankfeeds.publish.parsers.common import squash

SCHEME = "bankfeeds-publish/1"


def _uuid(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join((SCHEME, *parts)).encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def amount_text(amount: Decimal) -> str:
    """12.50, 12.5 and 12.500 are one amount."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def derived_id(account: str, entry: Entry, occurrence: int) -> str:
    return _uuid("derived", account, entry.booked.isoformat(), amount_text(entry.amount),
                 squash(entry.description), str(occurrence))


def bank_id(account: str, given: str) -> str:
    return _uuid("bank", account, given.strip())


def assign(account: str, entries: Iterable[Entry], *, use_bank_ids: bool = True) -> list[str]:
    """Ids for entries given in file order (the order decides the position among equals)."""
    seen: Counter[tuple[str, str, str]] = Counter()
    out = []
    for e in entries:
        if use_bank_ids and e.bank_id:
            out.append(bank_id(account, e.bank_id))
            continue
        key = (e.booked.isoformat(), amount_text(e.amount), squash(e.description))
        out.append(derived_id(account, e, seen[key]))
        seen[key] += 1
    return out
