"""From parsed statements to what each source account should receive, in batches.

Codat's rules, applied here so they never have to fail on the server: at most 1000 transactions
per request, one source account per request, in chronological order, nothing older than what the
account already holds. Everything is decided before anything is sent, so a file that cannot be
read or does not add up contributes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bankfeeds.publish import ids
from bankfeeds.publish.balances import Settled
from bankfeeds.publish.journal import JournalState

MAX_BATCH = 1000


@dataclass(slots=True)
class Outgoing:
    id: str
    when: datetime
    dated: bool  # the file gave a time of day
    amount: Decimal
    balance: Decimal
    description: str
    counterparty: str | None
    reference: str | None
    kind: str | None
    file: int  # index of the file it came from
    line: int | None
    order: int  # position in its file

    @property
    def date_text(self) -> str:
        return self.when.isoformat() if self.dated else self.when.date().isoformat()

    def wire(self, detailed_types: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "date": self.date_text,
            "description": self.description,
            "amount": self.amount,
            "balance": self.balance,
            "transactionType": (self.kind if detailed_types and self.kind else
                                ("Credit" if self.amount >= 0 else "Debit")),
        }
        if self.counterparty:
            data["counterparty"] = self.counterparty
        if self.reference:
            data["reference"] = self.reference
        return data


@dataclass
class AccountPlan:
    account: str
    incoming: list[Outgoing] = field(default_factory=list)
    # Counted per file index.
    read: dict[int, int] = field(default_factory=dict)
    duplicate_in_input: dict[int, int] = field(default_factory=dict)
    already_sent: dict[int, int] = field(default_factory=dict)
    older: dict[int, int] = field(default_factory=dict)
    older_examples: list[Outgoing] = field(default_factory=list)
    to_send: list[Outgoing] = field(default_factory=list)
    batches: list[list[Outgoing]] = field(default_factory=list)


def _bump(counter: dict[int, int], key: int, by: int = 1) -> None:
    counter[key] = counter.get(key, 0) + by


def collect(account: str, settled_by_file: dict[int, list[Settled]], *, use_bank_ids: bool = True) -> AccountPlan:
    """The account's transactions from every file, with balances and ids, deduplicated, in order.

    ``settled_by_file`` maps a file's index to its entries for this account with their running
    balances (see ``balances.settle``), each statement in booking order.
    """
    plan = AccountPlan(account)
    seen: set[str] = set()
    for index in sorted(settled_by_file):
        settled = settled_by_file[index]
        # Ids follow booking order: the position among equals within a day is the same in any file
        # that holds that day, whichever way round the file lists it.
        assigned = ids.assign(account, [s.entry for s in settled], use_bank_ids=use_bank_ids)
        for i, s in enumerate(settled):
            e = s.entry
            _bump(plan.read, index)
            tid = assigned[i]
            if tid in seen:
                _bump(plan.duplicate_in_input, index)
                continue
            seen.add(tid)
            plan.incoming.append(Outgoing(
                id=tid, when=e.when, dated=e.at is not None, amount=e.amount, balance=s.balance,
                description=e.description, counterparty=e.counterparty, reference=e.reference, kind=e.kind,
                file=index, line=e.line, order=i,
            ))
    plan.incoming.sort(key=lambda o: (o.when, o.file, o.order))
    return plan


def schedule(plan: AccountPlan, state: JournalState, *, after: datetime | None = None,
             batch_size: int = MAX_BATCH) -> AccountPlan:
    """Split what is new for the account into batches; count what is skipped and why.

    ``state`` is what the journal says the account holds; ``after`` a high-water mark given by hand
    (the account holds transactions up to then, e.g. written by another system).
    """
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch size must be between 1 and {MAX_BATCH}")
    in_flight = {i for b in state.open.values() for i in b.ids}
    newest = state.newest
    if after is not None and (newest is None or after > newest):
        newest = after
    for o in plan.incoming:
        if o.id in state.sent_ids or o.id in in_flight:
            _bump(plan.already_sent, o.file)
        elif newest is not None and o.when < newest:
            _bump(plan.older, o.file)
            if len(plan.older_examples) < 5:
                plan.older_examples.append(o)
        else:
            plan.to_send.append(o)
    plan.batches = [plan.to_send[i:i + batch_size] for i in range(0, len(plan.to_send), batch_size)]
    return plan
