"""Sandbox companies with a QuickBooks-like chart of accounts, created once (idempotent)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from bankfeeds.kit.clock import Clock
from bankfeeds.models import SandboxAccount, SandboxCompany
from bankfeeds.sandbox.repository import SandboxRepository

# (name, account type, detail type)
_CHART: dict[str, list[tuple[str, str, str]]] = {
    "Craig's Design and Landscaping Services": [
        ("Checking", "Bank", "Checking"),
        ("Savings", "Bank", "Savings"),
        ("Mastercard", "Credit Card", "Credit Card"),
        ("Accounts Receivable (A/R)", "Accounts receivable (A/R)", "Accounts Receivable (A/R)"),
        ("Undeposited Funds", "Other Current Assets", "Undeposited Funds"),
        ("Inventory Asset", "Other Current Assets", "Inventory"),
        ("Truck", "Fixed Assets", "Vehicles"),
        ("Accounts Payable (A/P)", "Accounts payable (A/P)", "Accounts Payable (A/P)"),
        ("Arizona Dept. of Revenue Payable", "Other Current Liabilities", "Sales Tax Payable"),
        ("Opening Balance Equity", "Equity", "Opening Balance Equity"),
        ("Retained Earnings", "Equity", "Retained Earnings"),
        ("Design income", "Income", "Service/Fee Income"),
        ("Landscaping Services", "Income", "Service/Fee Income"),
        ("Cost of Goods Sold", "Cost of Goods Sold", "Supplies & Materials - COGS"),
        ("Advertising", "Expenses", "Advertising/Promotional"),
        ("Bank Charges", "Expenses", "Bank Charges"),
        ("Insurance", "Expenses", "Insurance"),
        ("Office Expenses", "Expenses", "Office/General Administrative Expenses"),
        ("Rent or Lease", "Expenses", "Rent or Lease of Buildings"),
        ("Utilities", "Expenses", "Utilities"),
        ("Interest Earned", "Other Income", "Interest Earned"),
    ],
    "Amy's Bird Sanctuary": [
        ("Business Checking", "Bank", "Checking"),
        ("Visa", "Credit Card", "Credit Card"),
        ("Accounts Receivable (A/R)", "Accounts receivable (A/R)", "Accounts Receivable (A/R)"),
        ("Accounts Payable (A/P)", "Accounts payable (A/P)", "Accounts Payable (A/P)"),
        ("Opening Balance Equity", "Equity", "Opening Balance Equity"),
        ("Donations", "Income", "Non-Profit Income"),
        ("Bird Food", "Cost of Goods Sold", "Supplies & Materials - COGS"),
        ("Utilities", "Expenses", "Utilities"),
    ],
}


def seed(session: Session, clock: Clock) -> int:
    """Create the sandbox companies that do not exist yet; returns how many were created."""
    repo = SandboxRepository(session)
    now = clock.now()
    created = 0
    for company_name, chart in _CHART.items():
        if repo.company_by_name(company_name) is not None:
            continue
        company = SandboxCompany(id=uuid.uuid4(), name=company_name, currency="USD", created_at=now)
        repo.add(company)
        for name, account_type, detail in chart:
            repo.add(SandboxAccount(id=uuid.uuid4(), company_id=company.id, name=name, account_type=account_type,
                                    detail_type=detail, currency="USD", created_at=now))
        created += 1
    return created
