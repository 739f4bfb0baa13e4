"""The demo bank's customer, its accounts and their history, and the activity that keeps coming.

Activity is pseudo-random but deterministic (seeded by account and sequence number), so a demo and
a test see the same descriptions and amounts.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from bankfeeds.demo.repository import DemoRepository
from bankfeeds.kit.clock import Clock
from bankfeeds.models import DemoAccount, DemoCustomer, DemoTransaction

HISTORY_DAYS = 10

_ACCOUNTS = [
    # source id, name, type, number, opening balance
    ("chk-7315", "Business Checking", "checking", "482100007315", Decimal("12480.55")),
    ("cc-9042", "Business Visa", "creditCard", "411100000009042", Decimal("-1235.40")),
]

_CHECKING = [
    ("Card payment · Blue Bottle Coffee", "-", Decimal("4.50"), Decimal("38.00")),
    ("Deposit · Square settlement", "+", Decimal("380.00"), Decimal("1950.00")),
    ("ACH debit · PG&E utilities", "-", Decimal("120.00"), Decimal("410.00")),
    ("Card payment · Restaurant Depot", "-", Decimal("85.00"), Decimal("640.00")),
    ("Mobile deposit · Catering invoice", "+", Decimal("250.00"), Decimal("1800.00")),
    ("ACH debit · Gusto payroll", "-", Decimal("900.00"), Decimal("3200.00")),
    ("Wire in · Wholesale order", "+", Decimal("500.00"), Decimal("2500.00")),
    ("Card payment · Staples", "-", Decimal("12.00"), Decimal("160.00")),
]
_CARD = [
    ("Amazon Marketplace", "-", Decimal("15.00"), Decimal("240.00")),
    ("Sysco Foods", "-", Decimal("120.00"), Decimal("880.00")),
    ("Shell Oil", "-", Decimal("30.00"), Decimal("95.00")),
    ("Adobe Creative Cloud", "-", Decimal("54.99"), Decimal("54.99")),
    ("Payment received · Thank you", "+", Decimal("400.00"), Decimal("1500.00")),
    ("Uber Eats for Business", "-", Decimal("18.00"), Decimal("120.00")),
]


def _draw(account: DemoAccount, seq: int) -> tuple[str, Decimal]:
    rng = random.Random(f"{account.source_account_id}:{seq}")
    description, sign, low, high = rng.choice(_CARD if account.account_type == "creditCard" else _CHECKING)
    cents = rng.randint(int(low * 100), int(high * 100))
    amount = Decimal(cents).scaleb(-2)
    return description, amount if sign == "+" else -amount


def book(session: Session, clock: Clock, account: DemoAccount, day: date, count: int) -> list[DemoTransaction]:
    """Book ``count`` new transactions on ``day``, updating the running balance."""
    repo = DemoRepository(session)
    seq = repo.last_seq(account.id)
    rows = []
    for _ in range(count):
        seq += 1
        description, amount = _draw(account, seq)
        account.balance += amount
        row = DemoTransaction(id=uuid.uuid4(), account_id=account.id, seq=seq, booked_on=day,
                              description=description, amount=amount, balance=account.balance,
                              created_at=clock.now())
        repo.add(row)
        rows.append(row)
    return rows


def seed(session: Session, clock: Clock, customer_name: str) -> DemoCustomer:
    """The customer with its accounts and ``HISTORY_DAYS`` days of history; nothing if it exists."""
    repo = DemoRepository(session)
    existing = repo.customer(customer_name)
    if existing is not None:
        return existing
    now = clock.now()
    customer = DemoCustomer(id=uuid.uuid4(), name=customer_name, created_at=now)
    repo.add(customer)
    today = now.date()
    for source_id, name, kind, number, opening in _ACCOUNTS:
        account = DemoAccount(id=uuid.uuid4(), customer_id=customer.id, source_account_id=source_id, name=name,
                              account_type=kind, account_number=number, routing_number="021000021",
                              currency="USD", balance=opening, registered=False, created_at=now)
        repo.add(account)
        for back in range(HISTORY_DAYS, 0, -1):
            day = today - timedelta(days=back)
            if day.weekday() < 5:
                book(session, clock, account, day, 2)
    return customer
