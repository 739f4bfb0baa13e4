"""The Xero sandbox's rules: identity (OAuth 2.0 with PKCE), connections, the accounting reads,
feed connections and statements, as Xero's APIs behave.

Services never commit: each public function runs in a unit of work the caller (an endpoint)
opens, except the ones that take the ``XeroSandbox`` and open their own short units of work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from bankfeeds.errors import BankfeedsError
from bankfeeds.kit.clock import Clock, utc
from bankfeeds.kit.db import Database
from bankfeeds.kit.security import sha256_hex
from bankfeeds.models import (
    XeroSandboxAccount,
    XeroSandboxAuthCode,
    XeroSandboxCall,
    XeroSandboxClient,
    XeroSandboxConnection,
    XeroSandboxFeedConnection,
    XeroSandboxGrant,
    XeroSandboxOrganisation,
    XeroSandboxStatement,
    XeroSandboxStatementLine,
    XeroSandboxToken,
    XeroSandboxUser,
)
from bankfeeds.xero_sandbox.codes import COUNTRIES, CURRENCIES
from bankfeeds.xero_sandbox.limits import Faults, RateLimiter
from bankfeeds.xero_sandbox.repository import XeroSandboxRepository

log = logging.getLogger("bankfeeds.xero_sandbox")

CODE_TTL = timedelta(minutes=5)
ACCESS_TTL = timedelta(minutes=30)
REFRESH_TTL = timedelta(days=60)
MAX_STATEMENT_BYTES = 3_000_000
FOUR_PLACES = Decimal("0.0001")

# What each scope lets an app do, in plain words for the consent page.
SCOPES: dict[str, str] = {
    "openid": "Know who you are in Xero",
    "profile": "See your name",
    "email": "See your email address",
    "offline_access": "Stay connected when you are not using it (until you disconnect it)",
    "accounting.settings": "See and change your organisation's settings and chart of accounts",
    "accounting.settings.read": "See your organisation's details and chart of accounts",
    "accounting.transactions": "See and change your transactions",
    "accounting.transactions.read": "See your transactions",
    "accounting.contacts": "See and change your contacts",
    "accounting.contacts.read": "See your contacts",
    "bankfeeds": "Send bank statements into your bank accounts (bank feeds)",
}


@dataclass
class XeroSandbox:
    """Everything the Xero sandbox needs; one per process (inside the hub, or standalone)."""

    database: Database
    clock: Clock
    secret_key: str
    demo: bool = False
    processing_delay: timedelta = timedelta(0)
    limits: RateLimiter = field(default_factory=RateLimiter)
    faults: Faults = field(default_factory=Faults)
    # The OAuth client(s) to register when seeding: (client_id, client_secret, redirect_uris).
    clients: list[tuple[str, str, list[str]]] = field(default_factory=list)
    seeded: bool = False

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.clock.now().date()


# -- errors -----------------------------------------------------------------------------------------
class Problem(BankfeedsError):
    """An API error rendered as ``application/problem+json`` with one of the spec's types."""

    def __init__(self, status: int, type_: str, title: str, detail: str, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=dict(headers or {}))
        self.status_code = status
        self.type = type_
        self.title = title

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": self.status_code, "detail": self.message[:255]}


def invalid_request(detail: str) -> Problem:
    return Problem(400, "invalid-request", "Invalid Request", detail)


class OAuthError(BankfeedsError):
    """An error of the token and revocation endpoints: ``{"error": ...}`` (RFC 6749 §5.2)."""

    def __init__(self, error: str, status: int = 400, description: str | None = None) -> None:
        super().__init__(description or error)
        self.status_code = status
        self.error = error
        if status == 401:
            self.headers["WWW-Authenticate"] = 'Basic realm="xero-sandbox"'


class CodeReplayed(OAuthError):
    """A code presented again: refused, and the grant it was exchanged for is revoked."""

    def __init__(self, grant_id: uuid.UUID | None) -> None:
        super().__init__("invalid_grant", description="the code was used already")
        self.grant_id = grant_id


class PageError(BankfeedsError):
    """A problem shown as a page (unknown client, bad redirect URI...)."""

    status_code = 400


def storable(value: str, max_len: int = 2000) -> bool:
    """Text the databases can hold and compare: no NUL (PostgreSQL refuses it), not absurdly long."""
    return "\x00" not in value and len(value) <= max_len


# -- secrets ----------------------------------------------------------------------------------------
def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, salt_hex, digest_hex = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return hmac.compare_digest(digest.hex(), digest_hex)


def token_hash(token: str) -> str:
    return sha256_hex(token)


# RFC 7636: a verifier is 43-128 of [A-Za-z0-9-._~]; an S256 challenge is 43 base64url characters.
_PKCE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


# -- seed -------------------------------------------------------------------------------------------
def ensure_seeded(xs: XeroSandbox) -> None:
    if xs.seeded:
        return
    from bankfeeds.xero_sandbox import seed

    with xs.database.unit_of_work() as session:
        seed.seed(session, xs.clock, xs.clients)
    xs.seeded = True


# -- identity: sign-in, consent, codes, tokens ----------------------------------------------------
@dataclass
class AuthorizeRequest:
    client: XeroSandboxClient
    redirect_uri: str
    scope: list[str]
    state: str
    code_challenge: str


def check_client_and_redirect(session: Session, client_id: str, redirect_uri: str) -> XeroSandboxClient:
    """Unknown client or unregistered redirect URI: an error page, never a redirect (RFC 6749 §4.1.2.1)."""
    client = XeroSandboxRepository(session).client(client_id) if client_id and storable(client_id, 100) else None
    if client is None:
        raise PageError("The app that sent you here is not registered with Xero (unknown client_id). "
                        "Nothing was shared. Go back to the app and try again.")
    if redirect_uri not in client.redirect_uris:
        raise PageError("The app that sent you here asked to return to an address it has not registered "
                        "with Xero (redirect_uri). Nothing was shared.")
    return client


class RedirectError(Exception):
    """An authorize error reported to the app through its (valid) redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description


def parse_authorize(session: Session, params: dict[str, str]) -> AuthorizeRequest:
    client = check_client_and_redirect(session, params.get("client_id", ""), params.get("redirect_uri", ""))
    if params.get("response_type") != "code":
        raise RedirectError("unsupported_response_type", "response_type must be code")
    challenge = params.get("code_challenge", "")
    if not challenge or params.get("code_challenge_method") != "S256":
        raise RedirectError("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
    if not _PKCE.fullmatch(challenge):
        raise RedirectError("invalid_request", "code_challenge must be a base64url SHA-256 digest")
    scope = [s for s in params.get("scope", "").split() if s]
    unknown = [s for s in scope if s not in SCOPES]
    if not scope or unknown:
        raise RedirectError("invalid_scope", f"unknown scope: {' '.join(unknown)}" if unknown else "scope is required")
    return AuthorizeRequest(client, params["redirect_uri"], list(dict.fromkeys(scope)), params.get("state", ""),
                            challenge)


def sign_in(session: Session, email: str, password: str) -> XeroSandboxUser | None:
    usable = email.strip() and storable(email, 254)
    user = XeroSandboxRepository(session).user_by_email(email.strip()) if usable else None
    if user is None:
        check_password(password, hash_password("timing-equaliser", salt=b"0" * 16))
        return None
    return user if check_password(password, user.password_hash) else None


def grant_consent(session: Session, clock: Clock, req: AuthorizeRequest, user: XeroSandboxUser,
                  organisation_ids: list[uuid.UUID]) -> str:
    """Connect the chosen organisations to the app and issue a single-use code (returned once)."""
    repo = XeroSandboxRepository(session)
    now = clock.now()
    event = uuid.uuid4()
    for org_id in organisation_ids:
        if repo.membership(user.id, org_id) is None:
            raise PageError("You cannot connect an organisation you do not belong to.")
        conn = repo.connection_for(req.client.client_id, user.id, org_id)
        if conn is None:
            repo.add(XeroSandboxConnection(id=uuid.uuid4(), client_id=req.client.client_id, user_id=user.id,
                                           organisation_id=org_id, auth_event_id=event, created_at=now,
                                           updated_at=now))
        else:
            conn.auth_event_id = event
            conn.updated_at = now
    code = secrets.token_urlsafe(32)
    repo.add(XeroSandboxAuthCode(
        id=uuid.uuid4(), code_hash=token_hash(code), client_id=req.client.client_id, user_id=user.id,
        redirect_uri=req.redirect_uri, scope=" ".join(req.scope), code_challenge=req.code_challenge,
        auth_event_id=event, expires_at=now + CODE_TTL, created_at=now))
    return code


def authenticate_client(session: Session, client_id: str, client_secret: str) -> XeroSandboxClient:
    client = XeroSandboxRepository(session).client(client_id) if client_id and storable(client_id, 100) else None
    expected = client.secret_hash if client else sha256_hex("no-such-client")
    if not hmac.compare_digest(sha256_hex(client_secret), expected) or client is None:
        raise OAuthError("invalid_client", 401, "client authentication failed")
    return client


def _issue(session: Session, now: datetime, grant: XeroSandboxGrant) -> dict[str, Any]:
    repo = XeroSandboxRepository(session)
    access = secrets.token_urlsafe(40)
    repo.add(XeroSandboxToken(id=uuid.uuid4(), grant_id=grant.id, kind="access", token_hash=token_hash(access),
                              expires_at=now + ACCESS_TTL, created_at=now))
    answer: dict[str, Any] = {"access_token": access, "expires_in": int(ACCESS_TTL.total_seconds()),
                              "token_type": "Bearer", "scope": grant.scope}
    if "offline_access" in grant.scope.split():
        refresh = secrets.token_urlsafe(40)
        repo.add(XeroSandboxToken(id=uuid.uuid4(), grant_id=grant.id, kind="refresh",
                                  token_hash=token_hash(refresh), expires_at=now + REFRESH_TTL, created_at=now))
        answer["refresh_token"] = refresh
    return answer


def exchange_code(session: Session, clock: Clock, client: XeroSandboxClient, code: str, redirect_uri: str,
                  verifier: str) -> dict[str, Any]:
    repo = XeroSandboxRepository(session)
    now = clock.now()
    row = repo.code_by_hash(token_hash(code)) if code else None
    if row is not None and row.client_id == client.client_id and row.used_at is not None:
        raise CodeReplayed(row.grant_id)
    if row is None or row.client_id != client.client_id or utc(row.expires_at) <= now:
        raise OAuthError("invalid_grant", description="the code is unknown, used or expired")
    if row.redirect_uri != redirect_uri:
        raise OAuthError("invalid_grant", description="redirect_uri does not match the authorization request")
    if not _PKCE.fullmatch(verifier) or not hmac.compare_digest(pkce_s256(verifier), row.code_challenge):
        raise OAuthError("invalid_grant", description="the code_verifier does not match the code_challenge")
    if not repo.spend_code(row.id, now):
        raise CodeReplayed(None)
    grant = XeroSandboxGrant(id=uuid.uuid4(), client_id=client.client_id, user_id=row.user_id, scope=row.scope,
                             auth_event_id=row.auth_event_id, created_at=now)
    repo.add(grant)
    row.grant_id = grant.id
    return _issue(session, now, grant)


def refresh(session: Session, clock: Clock, client: XeroSandboxClient, refresh_token: str) -> dict[str, Any]:
    """Rotate: the refresh token is spent and a new pair issued. Spent/revoked/unknown: invalid_grant."""
    repo = XeroSandboxRepository(session)
    now = clock.now()
    row = repo.token_by_hash(token_hash(refresh_token)) if refresh_token else None
    grant = repo.grant(row.grant_id) if row is not None else None
    if (row is None or grant is None or row.kind != "refresh" or grant.client_id != client.client_id
            or grant.revoked_at is not None or row.spent_at is not None
            or (row.expires_at is not None and utc(row.expires_at) <= now)):
        raise OAuthError("invalid_grant", description="the refresh token is unknown, spent, expired or revoked")
    if not repo.spend_token(row.id, now):
        raise OAuthError("invalid_grant", description="the refresh token was spent already")
    return _issue(session, now, grant)


def revoke_grant(session: Session, clock: Clock, grant_id: uuid.UUID) -> None:
    grant = XeroSandboxRepository(session).grant(grant_id)
    if grant is not None and grant.revoked_at is None:
        grant.revoked_at = clock.now()
        session.flush()


def revoke(session: Session, clock: Clock, client: XeroSandboxClient, token: str) -> None:
    """Revoke the grant a token belongs to: its refresh and access tokens stop working (RFC 7009)."""
    repo = XeroSandboxRepository(session)
    row = repo.token_by_hash(token_hash(token)) if token else None
    grant = repo.grant(row.grant_id) if row is not None else None
    if grant is not None and grant.client_id == client.client_id and grant.revoked_at is None:
        grant.revoked_at = clock.now()
        session.flush()


# -- API principals -------------------------------------------------------------------------------
@dataclass
class Principal:
    client_id: str
    client_name: str
    user_id: uuid.UUID
    scopes: frozenset[str]
    tenant_id: uuid.UUID | None = None


def unauthorized(detail: str) -> Problem:
    return Problem(401, "invalid-request", "Unauthorized", detail,
                   headers={"WWW-Authenticate": 'Bearer realm="xero-sandbox"'})


def principal_for(session: Session, clock: Clock, authorization: str | None) -> Principal:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("An access token is required: send Authorization: Bearer <access_token>.")
    repo = XeroSandboxRepository(session)
    row = repo.token_by_hash(token_hash(token.strip()))
    grant = repo.grant(row.grant_id) if row is not None else None
    if row is None or grant is None or row.kind != "access" or grant.revoked_at is not None:
        raise unauthorized("The access token is not valid (unknown or revoked).")
    if row.expires_at is None or utc(row.expires_at) <= clock.now():
        raise unauthorized("The access token has expired; refresh it.")
    client = repo.client(grant.client_id)
    return Principal(grant.client_id, client.name if client else grant.client_id, grant.user_id,
                     frozenset(grant.scope.split()))


def check_tenant(session: Session, principal: Principal, raw_tenant: str | None) -> uuid.UUID:
    if raw_tenant is None or not raw_tenant.strip():
        raise invalid_request("The Xero-Tenant-Id header is required.")
    try:
        tenant = uuid.UUID(raw_tenant.strip())
    except ValueError:
        raise Problem(403, "invalid-request", "Forbidden",
                      "The Xero-Tenant-Id is not an organisation connected to this app.") from None
    conn = XeroSandboxRepository(session).connection_for(principal.client_id, principal.user_id, tenant)
    if conn is None:
        raise Problem(403, "invalid-request", "Forbidden",
                      "The Xero-Tenant-Id is not an organisation connected to this app.")
    return tenant


def require_scope(principal: Principal, *scopes: str) -> None:
    if not principal.scopes & set(scopes):
        raise Problem(403, "invalid-application", "Insufficient scope",
                      f"The access token lacks the scope this call needs ({' or '.join(scopes)}).")


# -- identity API: connections ----------------------------------------------------------------------
def _utc_text(value: datetime) -> str:
    return utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f0")


def list_connections(session: Session, principal: Principal, auth_event_id: str | None) -> list[dict[str, Any]]:
    repo = XeroSandboxRepository(session)
    out = []
    for conn in repo.connections(principal.client_id, principal.user_id):
        if auth_event_id and str(conn.auth_event_id) != auth_event_id:
            continue
        org = repo.organisation(conn.organisation_id)
        assert org is not None
        out.append({"id": str(conn.id), "authEventId": str(conn.auth_event_id), "tenantId": str(org.id),
                    "tenantType": "ORGANISATION", "tenantName": org.name,
                    "createdDateUtc": _utc_text(conn.created_at), "updatedDateUtc": _utc_text(conn.updated_at)})
    return out


def delete_connection(session: Session, principal: Principal, connection_id: str) -> None:
    repo = XeroSandboxRepository(session)
    try:
        cid = uuid.UUID(connection_id)
    except ValueError:
        raise Problem(404, "invalid-request", "Not Found", "There is no such connection.") from None
    for conn in repo.connections(principal.client_id, principal.user_id):
        if conn.id == cid:
            repo.delete(conn)
            return
    raise Problem(404, "invalid-request", "Not Found", "There is no such connection.")


# -- accounting API ---------------------------------------------------------------------------------
def ms_date(value: datetime) -> str:
    return f"/Date({int(utc(value).timestamp() * 1000)}+0000)/"


def _envelope(principal: Principal, clock: Clock) -> dict[str, Any]:
    return {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": principal.client_name,
            "DateTimeUTC": f"/Date({int(clock.now().timestamp() * 1000)})/"}


def organisation_wire(session: Session, clock: Clock, principal: Principal) -> dict[str, Any]:
    assert principal.tenant_id is not None
    org = XeroSandboxRepository(session).organisation(principal.tenant_id)
    assert org is not None
    return {**_envelope(principal, clock), "Organisations": [{
        "OrganisationID": str(org.id), "APIKey": "", "Name": org.name, "LegalName": org.legal_name,
        "PaysTax": True, "Version": org.country_code if org.country_code in ("NZ", "AU", "US") else "GLOBAL",
        "OrganisationType": org.organisation_type, "BaseCurrency": org.base_currency,
        "CountryCode": org.country_code, "IsDemoCompany": False, "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 31, "FinancialYearEndMonth": 3, "Timezone": org.timezone,
        "ShortCode": org.short_code, "Edition": "BUSINESS", "Class": "STANDARD",
        "OrganisationEntityType": org.organisation_type, "CreatedDateUTC": ms_date(org.created_at),
        "Addresses": [], "Phones": [], "ExternalLinks": [], "PaymentTerms": {},
    }]}


def account_wire(acc: XeroSandboxAccount) -> dict[str, Any]:
    out: dict[str, Any] = {"AccountID": str(acc.id), "Name": acc.name, "Type": acc.type, "Status": acc.status,
                           "TaxType": acc.tax_type or "NONE", "EnablePaymentsToAccount": False,
                           "ShowInExpenseClaims": False, "Class": _CLASS.get(acc.type, "ASSET"),
                           "ReportingCode": "", "HasAttachments": False, "AddToWatchlist": False,
                           "UpdatedDateUTC": ms_date(acc.updated_at)}
    if acc.code:
        out["Code"] = acc.code
    if acc.description:
        out["Description"] = acc.description
    if acc.type == "BANK":
        out["BankAccountNumber"] = acc.bank_account_number or ""
        out["BankAccountType"] = acc.bank_account_type or "BANK"
        out["CurrencyCode"] = acc.currency_code
    return out


_CLASS = {"BANK": "ASSET", "CURRENT": "ASSET", "FIXED": "ASSET", "INVENTORY": "ASSET", "PREPAYMENT": "ASSET",
          "NONCURRENT": "ASSET", "CURRLIAB": "LIABILITY", "LIABILITY": "LIABILITY", "TERMLIAB": "LIABILITY",
          "EQUITY": "EQUITY", "REVENUE": "REVENUE", "SALES": "REVENUE", "OTHERINCOME": "REVENUE",
          "EXPENSE": "EXPENSE", "OVERHEADS": "EXPENSE", "DIRECTCOSTS": "EXPENSE", "DEPRECIATN": "EXPENSE"}
_WHERE_FIELDS = {"Type": "type", "Status": "status", "BankAccountType": "bank_account_type",
                 "CurrencyCode": "currency_code", "Code": "code", "Name": "name",
                 "BankAccountNumber": "bank_account_number"}


def _where(raw: str) -> list[tuple[str, str]]:
    """The small part of Xero's ``where`` language worth supporting: ``Field=="value"`` joined by AND."""
    clauses = []
    for part in re.split(r"\s+AND\s+", raw.strip(), flags=re.IGNORECASE):
        found = re.fullmatch(r'\s*(\w+)\s*==\s*"([^"]*)"\s*', part)
        if not found or found.group(1) not in _WHERE_FIELDS:
            raise Problem(400, "invalid-request", "Invalid Request",
                          f"The where filter is not supported by the sandbox: {part.strip()[:100]}")
        clauses.append((_WHERE_FIELDS[found.group(1)], found.group(2)))
    return clauses


def accounts_wire(session: Session, clock: Clock, principal: Principal, where: str | None) -> dict[str, Any]:
    assert principal.tenant_id is not None
    accounts = XeroSandboxRepository(session).accounts(principal.tenant_id)
    if where:
        clauses = _where(where)
        accounts = [a for a in accounts if all((getattr(a, f) or "") == v for f, v in clauses)]
    return {**_envelope(principal, clock), "Accounts": [account_wire(a) for a in accounts]}


# -- bank feeds: parsing ----------------------------------------------------------------------------
def _items(body: Any) -> list[Any]:
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object with an items array.")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise invalid_request("For the request field 'Items' an array of at least one item is required.")
    if len(items) > 1000:
        raise invalid_request("For the request field 'Items' at most 1000 items are accepted.")
    return items


def _text(obj: dict[str, Any], key: str, label: str, max_len: int, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise invalid_request(f"For the request field '{label}' a value is required.")
        return None
    if not isinstance(value, str):
        raise invalid_request(f"For the request field '{label}' a string is expected.")
    if len(value) > max_len:
        raise invalid_request(f"For the request field '{label}' exceeded the maximum length of {max_len}.")
    if "\x00" in value:
        raise invalid_request(f"For the request field '{label}' the text contains a NUL character.")
    if required and not value.strip():
        raise invalid_request(f"For the request field '{label}' a value is required.")
    return value


def _money(obj: dict[str, Any], key: str, label: str) -> Decimal:
    value = obj.get(key)
    if isinstance(value, bool) or value is None:
        raise invalid_request(f"For the request field '{label}' an amount is required.")
    try:
        amount = Decimal(str(value)) if isinstance(value, (int, float, Decimal, str)) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise invalid_request(f"For the request field '{label}' a decimal amount is expected.")
    if amount < 0:
        raise invalid_request(f"For the request field '{label}' the amount must be unsigned (0 or more); "
                              "creditDebitIndicator carries the sign.")
    if amount >= Decimal("1e15") or amount != amount.quantize(FOUR_PLACES):
        raise invalid_request(f"For the request field '{label}' the amount must fit decimal(19,4).")
    return amount.quantize(FOUR_PLACES)


def _indicator(obj: dict[str, Any], key: str, label: str) -> str:
    value = obj.get(key)
    if value not in ("CREDIT", "DEBIT"):
        raise invalid_request(f"For the request field '{label}' CREDIT or DEBIT is expected.")
    return str(value)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(obj: dict[str, Any], key: str, label: str) -> date:
    value = obj.get(key)
    if not isinstance(value, str):
        raise invalid_request(f"For the request field '{label}' a date (YYYY-MM-DD) is required.")
    if not _ISO_DATE.fullmatch(value):
        raise invalid_request(f"For the request field '{label}' a date (YYYY-MM-DD) is expected.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid_request(f"For the request field '{label}' a date (YYYY-MM-DD) is expected.") from None


def _uuid(obj: dict[str, Any], key: str, label: str, *, required: bool = True) -> uuid.UUID | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise invalid_request(f"For the request field '{label}' an id (uuid) is required.")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise invalid_request(f"For the request field '{label}' the value is not a valid id (uuid).") from None


def _object(obj: dict[str, Any], key: str, label: str) -> dict[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise invalid_request(f"For the request field '{label}' an object is required.")
    return value


def signed(amount: Decimal, indicator: str) -> Decimal:
    """From the customer's view: CREDIT is money in (a positive balance), DEBIT money out."""
    return amount if indicator == "CREDIT" else -amount


def pagination(page_raw: str | None, size_raw: str | None) -> tuple[int, int]:
    """``page`` and ``pageSize`` as Xero reads them: not a number or negative means the default."""
    def number(raw: str | None, default: int) -> int:
        try:
            value = int(raw) if raw is not None else default
        except ValueError:
            return default
        return value if value > 0 else default

    return number(page_raw, 1), min(number(size_raw, 10), 100)


def page_wire(page: int, size: int, total: int) -> dict[str, int]:
    return {"page": page, "pageSize": size, "pageCount": max(1, -(-total // size)), "itemCount": total}


# -- bank feeds: feed connections -------------------------------------------------------------------
def feed_wire(session: Session, feed: XeroSandboxFeedConnection) -> dict[str, Any]:
    account = session.get(XeroSandboxAccount, feed.account_id)
    out: dict[str, Any] = {"id": str(feed.id), "accountToken": feed.account_token, "accountType": feed.account_type,
                           "currency": feed.currency}
    if account is not None:
        out["accountId"] = str(account.id)
        out["accountName"] = (account.name or "")[:30] if feed.account_name is None else feed.account_name
        number = account.bank_account_number or feed.account_number
        if number:
            out["accountNumber"] = number
    if feed.country:
        out["country"] = feed.country
    if feed.status == "PENDING":
        out["status"] = "PENDING"
    return out


def _activate(feeds: list[XeroSandboxFeedConnection]) -> None:
    """A new feed is PENDING in its create answer and active from the next read on."""
    for feed in feeds:
        if feed.status == "PENDING":
            feed.status = "ACTIVE"


def _rejected(item: dict[str, Any], type_: str, title: str, detail: str) -> dict[str, Any]:
    out = {"status": "REJECTED", "error": {"type": type_, "title": title, "status": 400, "detail": detail[:255]}}
    if isinstance(item.get("accountToken"), str):
        out = {"accountToken": item["accountToken"], **out}
    if isinstance(item.get("id"), str):
        out = {"id": item["id"], **out}
    return out


def _matching_bank_account(repo: XeroSandboxRepository, org_id: uuid.UUID, number: str, kind: str,
                           currency: str) -> XeroSandboxAccount | None:
    for acc in repo.bank_accounts(org_id):
        if acc.status != "ACTIVE" or (acc.bank_account_type or "BANK") != kind or acc.currency_code != currency:
            continue
        own = (acc.bank_account_number or "").replace(" ", "").replace("-", "")
        wanted = number.replace(" ", "").replace("-", "")
        if own and (own == wanted or (kind == "CREDITCARD" and own[-4:] == wanted)):
            return acc
    return None


def _new_bank_account(repo: XeroSandboxRepository, now: datetime, org_id: uuid.UUID, name: str, number: str,
                      kind: str, currency: str) -> XeroSandboxAccount:
    base, candidate, n = name[:140], name[:150], 1
    while repo.account_name_taken(org_id, candidate):
        n += 1
        candidate = f"{base} ({n})"
    acc = XeroSandboxAccount(id=uuid.uuid4(), organisation_id=org_id, code=None, name=candidate, type="BANK",
                             bank_account_number=number, bank_account_type=kind, currency_code=currency,
                             status="ACTIVE", created_at=now, updated_at=now)
    repo.add(acc)
    return acc


def create_feed_connections(session: Session, clock: Clock, principal: Principal, body: Any
                            ) -> tuple[int, dict[str, Any]]:
    """POST /FeedConnections: 202 with each item PENDING (or REJECTED); 400 if every item is rejected."""
    assert principal.tenant_id is not None
    repo = XeroSandboxRepository(session)
    org = repo.organisation(principal.tenant_id)
    assert org is not None
    now = clock.now()
    out: list[dict[str, Any]] = []
    for index, raw in enumerate(_items(body)):
        if not isinstance(raw, dict):
            raise invalid_request(f"For the request field 'Items[{index}]' an object is expected.")
        try:
            out.append(_create_feed(session, repo, now, principal, org, raw))
        except Problem as exc:
            out.append(_rejected(raw, exc.type, exc.title, exc.message))
    status = 400 if all(item.get("status") == "REJECTED" for item in out) else 202
    return status, {"items": out}


def _create_feed(session: Session, repo: XeroSandboxRepository, now: datetime, principal: Principal,
                 org: XeroSandboxOrganisation, item: dict[str, Any]) -> dict[str, Any]:
    token = _text(item, "accountToken", "AccountToken", 50, required=True)
    assert token is not None
    kind = item.get("accountType")
    if kind not in ("BANK", "CREDITCARD"):
        raise invalid_request("For the request field 'AccountType' BANK or CREDITCARD is required.")
    currency = item.get("currency")
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise invalid_request("For the request field 'Currency' an ISO-4217 currency code is required.")
    country = item.get("country")
    if country is not None and (not isinstance(country, str) or country not in COUNTRIES):
        raise invalid_request("For the request field 'Country' an ISO-3166 alpha-2 country code is expected.")
    number = _text(item, "accountNumber", "AccountNumber", 40)
    name = _text(item, "accountName", "AccountName", 30)
    account_id = _uuid(item, "accountId", "AccountId", required=False)
    if account_id is None and not (number and number.strip()):
        raise invalid_request("For the request field 'AccountNumber' a value is required when AccountId is not given.")
    if kind == "CREDITCARD" and account_id is None and number is not None and len(number.strip()) != 4:
        raise invalid_request("For the request field 'AccountNumber' only the last 4 digits of a credit card "
                              "number are accepted.")
    if country is not None and country != org.country_code:
        raise Problem(400, "invalid-country-specified", "Invalid Country Specified",
                      f"The country {country} is not the organisation's country ({org.country_code}).")

    existing = repo.live_feed_by_token(principal.client_id, token)
    if existing is not None:
        if existing.organisation_id != org.id:
            raise Problem(400, "feed-connected-in-different-organisation", "Feed connected in different organisation",
                          "The AccountToken is connected to another Xero Bank Account associated with this bank. "
                          "This Xero Bank Account belongs to a different Xero Organisation.")
        wire = feed_wire(session, existing)
        return wire if existing.status != "PENDING" else {"id": str(existing.id), "accountToken": token,
                                                          "status": "PENDING"}

    if account_id is not None:
        account = repo.account(org.id, account_id)
        if (account is None or account.type != "BANK" or account.status != "ACTIVE"
                or (account.bank_account_type or "BANK") != kind or account.currency_code != currency):
            raise Problem(400, "account-not-valid", "Account Not Valid",
                          "The AccountId is not an active bank account of this organisation with this "
                          "account type and currency.")
    else:
        assert number is not None
        account = _matching_bank_account(repo, org.id, number.strip(), str(kind), currency)
        if account is None:
            account = _new_bank_account(repo, now, org.id, (name or f"{kind.title()} {number.strip()}").strip(),
                                        number.strip(), str(kind), currency)
    if repo.live_feed_for_account(account.id) is not None:
        raise Problem(400, "feed-already-connected-in-current-organisation",
                      "Feed already connected in current organisation",
                      "This Xero bank account already has a bank feed in this organisation.")
    feed = XeroSandboxFeedConnection(
        id=uuid.uuid4(), client_id=principal.client_id, organisation_id=org.id, account_id=account.id,
        account_token=token, live_token=token, live_account_id=account.id, account_number=number,
        account_name=name, account_type=str(kind), currency=currency, country=country, status="PENDING",
        created_at=now)
    repo.add(feed)
    return {"id": str(feed.id), "accountToken": token, "status": "PENDING"}


def list_feed_connections(session: Session, principal: Principal, page: int, size: int) -> dict[str, Any]:
    assert principal.tenant_id is not None
    feeds = XeroSandboxRepository(session).live_feeds(principal.client_id, principal.tenant_id)
    _activate(feeds)
    chunk = feeds[(page - 1) * size: page * size]
    return {"pagination": page_wire(page, size, len(feeds)), "items": [feed_wire(session, f) for f in chunk]}


def _feed_not_found() -> Problem:
    return Problem(400, "bank-feed-not-found", "Bank Feed Not Found",
                   "There is no bank feed with this id in this organisation (it may have been removed).")


def get_feed_connection(session: Session, principal: Principal, raw_id: str) -> dict[str, Any]:
    try:
        feed_id = uuid.UUID(raw_id)
    except ValueError:
        raise invalid_request("For the request field 'Id' the value is not a valid id (uuid).") from None
    feed = XeroSandboxRepository(session).feed(feed_id)
    if (feed is None or feed.client_id != principal.client_id or feed.organisation_id != principal.tenant_id
            or feed.status == "DELETED"):
        raise _feed_not_found()
    _activate([feed])
    return feed_wire(session, feed)


def remove_feed(feed: XeroSandboxFeedConnection, now: datetime) -> None:
    feed.status = "DELETED"
    feed.live_token = None
    feed.live_account_id = None
    feed.deleted_at = now


def delete_feed_connections(session: Session, clock: Clock, principal: Principal, body: Any
                            ) -> tuple[int, dict[str, Any]]:
    repo = XeroSandboxRepository(session)
    out: list[dict[str, Any]] = []
    for index, raw in enumerate(_items(body)):
        if not isinstance(raw, dict):
            raise invalid_request(f"For the request field 'Items[{index}]' an object is expected.")
        feed_id = _uuid(raw, "id", "Id", required=False)
        token = raw.get("accountToken") if isinstance(raw.get("accountToken"), str) else None
        feed = repo.feed(feed_id, for_update=True) if feed_id else (
            repo.live_feed_by_token(principal.client_id, token) if token else None)
        if feed_id is None and token is None:
            raise invalid_request(f"For the request field 'Items[{index}].Id' a value is required.")
        if feed is not None and feed.client_id == principal.client_id and feed.status != "DELETED" \
                and feed.organisation_id != principal.tenant_id:
            out.append(_rejected(raw, "feed-connected-in-different-organisation",
                                 "Feed connected in different organisation",
                                 "The AccountToken is connected to another Xero Bank Account associated with this "
                                 "bank. This Xero Bank Account belongs to a different Xero Organisation."))
            continue
        if feed is None or feed.client_id != principal.client_id or feed.status == "DELETED":
            out.append(_rejected(raw, "feed-not-found-or-already-deleted", "Feed not found or already deleted",
                                 "There is no bank feed with this id, or it was deleted already."))
            continue
        remove_feed(feed, clock.now())
        out.append({"id": str(feed.id), "status": "PENDING"})
    session.flush()
    return 202, {"items": out}


# -- bank feeds: statements -------------------------------------------------------------------------
@dataclass
class ParsedLine:
    posted_date: date
    amount: Decimal
    indicator: str
    description: str | None
    transaction_id: str | None
    payee_name: str | None
    reference: str | None
    cheque_number: str | None
    transaction_type: str | None


@dataclass
class ParsedStatement:
    feed_id: uuid.UUID
    start_date: date
    end_date: date
    start_amount: Decimal
    start_indicator: str
    end_amount: Decimal
    end_indicator: str
    lines: list[ParsedLine]

    def fingerprint(self) -> str:
        canonical = json.dumps({
            "feed": str(self.feed_id), "start": [self.start_date.isoformat(), str(self.start_amount),
                                                 self.start_indicator],
            "end": [self.end_date.isoformat(), str(self.end_amount), self.end_indicator],
            "lines": [[ln.posted_date.isoformat(), str(ln.amount), ln.indicator, ln.description, ln.transaction_id,
                       ln.payee_name, ln.reference, ln.cheque_number, ln.transaction_type] for ln in self.lines],
        }, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def parse_statement(raw: Any, index: int) -> ParsedStatement:
    if not isinstance(raw, dict):
        raise invalid_request(f"For the request field 'Items[{index}]' an object is expected.")
    feed_id = _uuid(raw, "feedConnectionId", "FeedConnectionId")
    assert feed_id is not None
    start = _object(raw, "startBalance", "StartBalance")
    end = _object(raw, "endBalance", "EndBalance")
    lines_raw = raw.get("statementLines", [])
    if lines_raw is None:
        lines_raw = []
    if not isinstance(lines_raw, list):
        raise invalid_request("For the request field 'StatementLines' an array is expected.")
    lines = []
    for i, ln in enumerate(lines_raw):
        if not isinstance(ln, dict):
            raise invalid_request(f"For the request field 'StatementLines[{i}]' an object is expected.")
        lines.append(ParsedLine(
            posted_date=_date(ln, "postedDate", "StatementLine.PostedDate"),
            amount=_money(ln, "amount", "StatementLine.Amount"),
            indicator=_indicator(ln, "creditDebitIndicator", "StatementLine.CreditDebitIndicator"),
            description=_text(ln, "description", "StatementLine.Description", 2000),
            transaction_id=_text(ln, "transactionId", "StatementLine.TransactionId", 255),
            payee_name=_text(ln, "payeeName", "StatementLine.PayeeName", 255),
            reference=_text(ln, "reference", "StatementLine.Reference", 255),
            cheque_number=_text(ln, "chequeNumber", "StatementLine.ChequeNumber", 20),
            transaction_type=_text(ln, "transactionType", "StatementLine.TransactionType", 30),
        ))
    return ParsedStatement(
        feed_id=feed_id, start_date=_date(raw, "startDate", "StartDate"), end_date=_date(raw, "endDate", "EndDate"),
        start_amount=_money(start, "amount", "StartBalance.Amount"),
        start_indicator=_indicator(start, "creditDebitIndicator", "StartBalance.CreditDebitIndicator"),
        end_amount=_money(end, "amount", "EndBalance.Amount"),
        end_indicator=_indicator(end, "creditDebitIndicator", "EndBalance.CreditDebitIndicator"),
        lines=lines,
    )


def _check_rules(st: ParsedStatement, today: date) -> None:
    if st.end_date < st.start_date:
        raise Problem(422, "invalid-start-and-end-date", "Invalid Start and End Date",
                      f"The end date ({st.end_date}) must be on or after the start date ({st.start_date}).")
    if st.start_date < _one_year_before(today):
        raise Problem(422, "invalid-start-date", "Invalid Start Date",
                      f"The start date ({st.start_date}) is more than one year old.")
    if st.end_date > today:
        raise Problem(422, "invalid-end-date", "Invalid End Date",
                      f"The end date ({st.end_date}) is in the future.")
    total = signed(st.start_amount, st.start_indicator) + sum(
        (signed(ln.amount, ln.indicator) for ln in st.lines), Decimal(0))
    if total != signed(st.end_amount, st.end_indicator):
        raise Problem(422, "invalid-end-balance", "Invalid End Balance",
                      "End balance does not match start balance +/- statement line amounts.")


def _one_year_before(today: date) -> date:
    try:
        return today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year - 1, day=28)


DUPLICATE_ERRORS = [{"type": "duplicate-statement", "title": "Duplicate Statement Received", "status": 409,
                     "detail": "The received statement was marked as a duplicate."}]


def create_statements(session: Session, clock: Clock, principal: Principal, body: Any
                      ) -> tuple[int, dict[str, Any]]:
    """POST /Statements: checked whole, then each stored PENDING; 409 when a statement is a duplicate."""
    assert principal.tenant_id is not None
    repo = XeroSandboxRepository(session)
    parsed = [parse_statement(raw, i) for i, raw in enumerate(_items(body))]
    today = clock.now().date()
    feeds: dict[uuid.UUID, XeroSandboxFeedConnection] = {}
    for st in parsed:
        feed = repo.feed(st.feed_id, for_update=True)
        if (feed is None or feed.client_id != principal.client_id or feed.organisation_id != principal.tenant_id
                or feed.status == "DELETED"):
            raise Problem(403, "invalid-feed-connection", "Invalid Feed Connection",
                          f"The feed connection {st.feed_id} is not an active bank feed of this organisation.")
        feeds[st.feed_id] = feed
    for st in parsed:
        _check_rules(st, today)
    now = clock.now()
    out: list[dict[str, Any]] = []
    duplicates = False
    for st in parsed:
        feed = feeds[st.feed_id]
        _activate([feed])
        fingerprint = st.fingerprint()
        ids = [ln.transaction_id for ln in st.lines if ln.transaction_id]
        known = repo.known_transaction_ids(feed.id, ids) if ids else set()
        keep, seen = [], set(known)
        for ln in st.lines:
            if ln.transaction_id is not None:
                if ln.transaction_id in seen:
                    continue
                seen.add(ln.transaction_id)
            keep.append(ln)
        duplicate = repo.same_statement(feed.id, fingerprint) or bool(st.lines and not keep)
        # A duplicate is kept REJECTED (GET /Statements lists it so, as in Xero's example), without lines.
        row = XeroSandboxStatement(
            id=uuid.uuid4(), client_id=principal.client_id, organisation_id=principal.tenant_id,
            feed_connection_id=feed.id, status="REJECTED" if duplicate else "PENDING", start_date=st.start_date,
            end_date=st.end_date, start_amount=st.start_amount, start_indicator=st.start_indicator,
            end_amount=st.end_amount, end_indicator=st.end_indicator,
            line_count=len(st.lines) if duplicate else len(keep), fingerprint=fingerprint,
            errors=DUPLICATE_ERRORS if duplicate else None, received_at=now, processed_at=now if duplicate else None)
        repo.add(row)
        if duplicate:
            duplicates = True
            out.append({"id": str(row.id), "feedConnectionId": str(feed.id), "status": "REJECTED",
                        "errors": DUPLICATE_ERRORS})
            continue
        for position, ln in enumerate(keep):
            session.add(XeroSandboxStatementLine(
                id=uuid.uuid4(), statement_id=row.id, feed_connection_id=feed.id, account_id=feed.account_id,
                position=position, posted_date=ln.posted_date, description=ln.description, amount=ln.amount,
                credit_debit=ln.indicator, transaction_id=ln.transaction_id, payee_name=ln.payee_name,
                reference=ln.reference, cheque_number=ln.cheque_number, transaction_type=ln.transaction_type,
                status="received"))
        out.append({"id": str(row.id), "feedConnectionId": str(feed.id), "status": "PENDING"})
    session.flush()
    return (409 if duplicates else 202), {"items": out}


def process_due(session: Session, xs: XeroSandbox, *, organisation_id: uuid.UUID | None = None,
                statement_id: uuid.UUID | None = None) -> int:
    """Process the PENDING statements whose delay has passed: DELIVERED, or REJECTED with errors."""
    repo = XeroSandboxRepository(session)
    now = xs.now()
    done = 0
    for st in repo.due_statements(now - xs.processing_delay, organisation_id=organisation_id,
                                  statement_id=statement_id):
        feed = repo.feed(st.feed_connection_id)
        errors: list[dict[str, Any]] | None = None
        if feed is None or feed.status == "DELETED":
            errors = [{"type": "invalid-feed-connection", "title": "Invalid Feed Connection", "status": 403,
                       "detail": "The bank feed was removed before the statement could be delivered."}]
        elif xs.faults.take(("reject-statement",), str(st.organisation_id)) is not None:
            errors = [{"type": "invalid-request", "title": "Statement Rejected", "status": 400,
                       "detail": "The statement was rejected (the sandbox's reject-statement fault)."}]
        st.status = "REJECTED" if errors else "DELIVERED"
        st.errors = errors
        st.processed_at = now
        repo.set_lines_status(st.id, "rejected" if errors else "unreconciled")
        done += 1
    session.flush()
    return done


def _balance(amount: Decimal, indicator: str) -> dict[str, Any]:
    return {"amount": amount.quantize(FOUR_PLACES), "creditDebitIndicator": indicator}


def statement_wire(session: Session, st: XeroSandboxStatement, *, lines: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(st.id), "feedConnectionId": str(st.feed_connection_id), "status": st.status,
        "startDate": st.start_date.isoformat(), "endDate": st.end_date.isoformat(),
        "startBalance": _balance(st.start_amount, st.start_indicator),
        "endBalance": _balance(st.end_amount, st.end_indicator),
        "statementLineCount": st.line_count,
    }
    if st.errors:
        out["errors"] = st.errors
    if lines:
        wire_lines = []
        for ln in XeroSandboxRepository(session).lines_of(st.id):
            item: dict[str, Any] = {"postedDate": ln.posted_date.isoformat(),
                                    "amount": ln.amount.quantize(FOUR_PLACES), "creditDebitIndicator": ln.credit_debit}
            for key, value in (("description", ln.description), ("transactionId", ln.transaction_id),
                               ("payeeName", ln.payee_name), ("reference", ln.reference),
                               ("chequeNumber", ln.cheque_number), ("transactionType", ln.transaction_type)):
                if value is not None:
                    item[key] = value
            wire_lines.append(item)
        out["statementLines"] = wire_lines
    return out


def get_statement(session: Session, xs: XeroSandbox, principal: Principal, raw_id: str) -> dict[str, Any]:
    try:
        statement_id = uuid.UUID(raw_id)
    except ValueError:
        raise _statement_not_found() from None
    repo = XeroSandboxRepository(session)
    st = repo.statement(statement_id)
    if st is None or st.client_id != principal.client_id or st.organisation_id != principal.tenant_id:
        raise _statement_not_found()
    process_due(session, xs, statement_id=st.id)
    return statement_wire(session, st, lines=True)


def _statement_not_found() -> Problem:
    return Problem(404, "statement-not-found", "Statement Not Found", "There is no statement with this id.")


def list_statements(session: Session, xs: XeroSandbox, principal: Principal, page: int, size: int
                    ) -> dict[str, Any]:
    assert principal.tenant_id is not None
    process_due(session, xs, organisation_id=principal.tenant_id)
    repo = XeroSandboxRepository(session)
    total = repo.count_statements(principal.client_id, principal.tenant_id)
    rows = repo.statements(principal.client_id, principal.tenant_id, offset=(page - 1) * size, limit=size)
    return {"pagination": page_wire(page, size, total), "items": [statement_wire(session, s, lines=False)
                                                                  for s in rows]}


# -- the call log -----------------------------------------------------------------------------------
def record_call(xs: XeroSandbox, *, client_id: str | None, tenant_id: str | None, method: str, path: str,
                status: int, problem: str | None) -> None:
    try:
        with xs.database.unit_of_work() as session:
            if xs.database.dialect == "postgresql":
                # The log is a test aid: it need not wait for the disk (a crash may lose its tail).
                session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            session.add(XeroSandboxCall(client_id=client_id, tenant_id=tenant_id, method=method, path=path[:500],
                                        status=status, problem=problem, at=xs.now()))
    except Exception:  # the log must never break an answer
        log.exception("could not record a Xero sandbox API call")


def calls_wire(session: Session, tenant_id: str | None, after_id: int) -> list[dict[str, Any]]:
    return [{"id": c.id, "clientId": c.client_id, "tenantId": c.tenant_id, "method": c.method, "path": c.path,
             "status": c.status, "problem": c.problem, "at": utc(c.at).isoformat().replace("+00:00", "Z")}
            for c in XeroSandboxRepository(session).calls(tenant_id=tenant_id, after_id=after_id)]


def all_statements_wire(session: Session) -> list[dict[str, Any]]:
    repo = XeroSandboxRepository(session)
    out = []
    for st in repo.all_statements():
        feed = repo.feed(st.feed_connection_id)
        out.append({"id": str(st.id), "tenantId": str(st.organisation_id),
                    "feedConnectionId": str(st.feed_connection_id),
                    "accountToken": feed.account_token if feed else None, "status": st.status,
                    "lineCount": st.line_count,
                    "transactionIds": [ln.transaction_id for ln in repo.lines_of(st.id)]})
    return out
