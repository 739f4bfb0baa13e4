"""Demo users, organisations with a Xero-like chart of accounts, and the OAuth client(s). Idempotent."""

from __future__ import annotations

import functools
import uuid

from sqlalchemy.orm import Session

from bankfeeds.kit.clock import Clock
from bankfeeds.kit.security import sha256_hex
from bankfeeds.models import (
    XeroSandboxAccount,
    XeroSandboxClient,
    XeroSandboxMembership,
    XeroSandboxOrganisation,
    XeroSandboxUser,
)
from bankfeeds.xero_sandbox.repository import XeroSandboxRepository
from bankfeeds.xero_sandbox.service import hash_password

DEMO_PASSWORD = "xero-demo-2026"
# Organisation ids (the tenant ids) are stable across databases, so demos and tests can name them.
_TENANT_NAMESPACE = uuid.UUID("6f1c2c0e-5b7a-4d0b-9d65-0a7e1f3c9b21")


def tenant_id_for(name: str) -> uuid.UUID:
    return uuid.uuid5(_TENANT_NAMESPACE, name)


DEMO_EMAIL = "demo@example.com"
SOLO_EMAIL = "solo@example.com"

# name, legal name, currency, country, short code, timezone
_ORGS = [
    ("Bluebird Cafe LLC", "Bluebird Cafe LLC", "USD", "US", "!bBc01", "EASTERNSTANDARDTIME"),
    ("Acme Trading Ltd", "Acme Trading Limited", "GBP", "GB", "!aTr02", "GMTSTANDARDTIME"),
    ("Kiwi Coffee Co", "Kiwi Coffee Company Limited", "NZD", "NZ", "!kCc03", "NEWZEALANDSTANDARDTIME"),
]
# code, name, type, bank account number, bank account type, currency (bank accounts), tax type
_CHART: dict[str, list[tuple[str, str, str, str | None, str | None, str | None, str]]] = {
    "Bluebird Cafe LLC": [
        # The number is the demo bank's checking account: a feed by accountNumber matches it.
        ("090", "Business Checking", "BANK", "482100007315", "BANK", "USD", "NONE"),
        ("091", "Business Savings", "BANK", "482100009920", "BANK", "USD", "NONE"),
        ("092", "Company Visa", "BANK", "5555", "CREDITCARD", "USD", "NONE"),
    ],
    "Acme Trading Ltd": [
        ("090", "Business Current Account", "BANK", "20-32-06 40128846", "BANK", "GBP", "NONE"),
        ("091", "Business Savings Account", "BANK", "20-32-06 70443312", "BANK", "GBP", "NONE"),
        ("092", "Company Credit Card", "BANK", "4242", "CREDITCARD", "GBP", "NONE"),
        ("093", "US Dollar Account", "BANK", "US-0099-1234", "BANK", "USD", "NONE"),
    ],
    "Kiwi Coffee Co": [
        ("090", "Cheque Account", "BANK", "02-0209-0987654-00", "BANK", "NZD", "NONE"),
        ("092", "Mastercard", "BANK", "6010", "CREDITCARD", "NZD", "NONE"),
    ],
}
_COMMON = [
    ("200", "Sales", "REVENUE", None, None, None, "OUTPUT2"),
    ("260", "Other Revenue", "REVENUE", None, None, None, "OUTPUT2"),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", None, None, None, "INPUT2"),
    ("400", "Advertising", "OVERHEADS", None, None, None, "INPUT2"),
    ("404", "Bank Fees", "OVERHEADS", None, None, None, "NONE"),
    ("610", "Accounts Receivable", "CURRENT", None, None, None, "NONE"),
    ("800", "Accounts Payable", "CURRLIAB", None, None, None, "NONE"),
    ("960", "Retained Earnings", "EQUITY", None, None, None, "NONE"),
]
# email, name, organisations
_USERS = [
    (DEMO_EMAIL, "Dana Demo", ["Bluebird Cafe LLC", "Acme Trading Ltd", "Kiwi Coffee Co"]),
    (SOLO_EMAIL, "Sam Solo", ["Kiwi Coffee Co"]),
]


@functools.cache
def _demo_password_hash() -> str:
    """The demo users' password is published on the sign-in page: hashed once per process (scrypt
    takes ~50 ms; tests and demos seed the sandbox again and again)."""
    return hash_password(DEMO_PASSWORD)


def seed(session: Session, clock: Clock, clients: list[tuple[str, str, list[str]]]) -> int:
    """Create what does not exist yet; register or update the given OAuth clients. Returns rows created."""
    repo = XeroSandboxRepository(session)
    now = clock.now()
    created = 0
    orgs: dict[str, XeroSandboxOrganisation] = {}
    for name, legal, currency, country, short, tz in _ORGS:
        org = repo.organisation_by_name(name)
        if org is None:
            org = XeroSandboxOrganisation(id=tenant_id_for(name), name=name, legal_name=legal, base_currency=currency,
                                          country_code=country, organisation_type="COMPANY", short_code=short,
                                          timezone=tz, created_at=now)
            repo.add(org)
            for code, acc_name, acc_type, number, bank_type, acc_currency, tax in _CHART[name] + _COMMON:
                repo.add(XeroSandboxAccount(
                    id=uuid.uuid4(), organisation_id=org.id, code=code, name=acc_name, type=acc_type,
                    tax_type=tax, bank_account_number=number, bank_account_type=bank_type,
                    currency_code=acc_currency, status="ACTIVE", created_at=now, updated_at=now))
            created += 1
        orgs[name] = org
    for email, person, memberships in _USERS:
        user = repo.user_by_email(email)
        if user is None:
            user = XeroSandboxUser(id=uuid.uuid4(), email=email, name=person,
                                   password_hash=_demo_password_hash(), created_at=now)
            repo.add(user)
            for org_name in memberships:
                repo.add(XeroSandboxMembership(user_id=user.id, organisation_id=orgs[org_name].id))
            created += 1
    for client_id, secret, redirect_uris in clients:
        client = repo.client(client_id)
        if client is None:
            repo.add(XeroSandboxClient(client_id=client_id, name="Bank feeds hub", secret_hash=sha256_hex(secret),
                                       redirect_uris=list(redirect_uris), created_at=now))
            created += 1
        else:
            client.secret_hash = sha256_hex(secret)
            client.redirect_uris = list(redirect_uris)
    session.flush()
    return created


def add_organisation(session: Session, clock: Clock, *, name: str, currency: str, country: str,
                     users: list[str], bank_accounts: list[tuple[str, str, str, str]]) -> XeroSandboxOrganisation:
    """A further organisation (tests and benches), with the usual non-bank accounts plus the bank
    accounts given as (name, number, BANK|CREDITCARD, currency); its users must exist. Idempotent by
    name: an existing organisation only gains the users and the bank accounts it lacks."""
    repo = XeroSandboxRepository(session)
    now = clock.now()
    org = repo.organisation_by_name(name)
    if org is None:
        org = XeroSandboxOrganisation(id=tenant_id_for(name), name=name, legal_name=name, base_currency=currency,
                                      country_code=country, organisation_type="COMPANY",
                                      short_code="!" + tenant_id_for(name).hex[:5], timezone="UTC", created_at=now)
        repo.add(org)
        for code, acc_name, acc_type, number, bank_type, acc_currency, tax in _COMMON:
            repo.add(XeroSandboxAccount(id=uuid.uuid4(), organisation_id=org.id, code=code, name=acc_name,
                                        type=acc_type, tax_type=tax, bank_account_number=number,
                                        bank_account_type=bank_type, currency_code=acc_currency, status="ACTIVE",
                                        created_at=now, updated_at=now))
    existing = {a.name for a in repo.accounts(org.id)}
    for acc_name, number, bank_type, acc_currency in bank_accounts:
        if acc_name not in existing:
            repo.add(XeroSandboxAccount(id=uuid.uuid4(), organisation_id=org.id, code=None, name=acc_name,
                                        type="BANK", tax_type="NONE", bank_account_number=number,
                                        bank_account_type=bank_type, currency_code=acc_currency, status="ACTIVE",
                                        created_at=now, updated_at=now))
    for email in users:
        user = repo.user_by_email(email)
        if user is None:
            raise ValueError(f"there is no user {email}")
        if repo.membership(user.id, org.id) is None:
            repo.add(XeroSandboxMembership(user_id=user.id, organisation_id=org.id))
    return org
