"""The sandbox's rules: Link account (sign in, pick and map accounts), pulls, disconnection.

Every step that calls the bank's IDX API does so *outside* any database transaction: a short unit
of work reads what the call needs, the HTTP call runs, a second unit of work stores the result.
A slow or failing bank never holds a lock, and on SQLite the hub (same file) is never blocked.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bankfeeds.errors import BadGateway, BadRequest, NotFound, ValidationItem
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.models import SandboxAccount, SandboxBankLogin, SandboxBankTransaction, SandboxCompany, SandboxFeed
from bankfeeds.sandbox.directory import Directory, Institution
from bankfeeds.sandbox.idx_client import (
    HttpFactory,
    IdxAccount,
    IdxClient,
    IdxError,
    IdxThrottled,
    IdxUnauthorized,
    default_http,
)
from bankfeeds.sandbox.repository import SandboxRepository
from bankfeeds.sandbox.vault import Vault, VaultError

log = logging.getLogger("bankfeeds.sandbox")

# QuickBooks downloads at most 90 days of history.
MAX_HISTORY_DAYS = 90
PULL_EVERY = timedelta(days=1)
CONNECTED = "connected"
DISCONNECTED = "disconnected"


class FormError(BadRequest):
    """Bad input on a sandbox form: the page is shown again with the message."""


class SignInPaused(FormError):
    """The bank paused sign-ins for these credentials: the form is shown again with when to retry."""

    status_code = 429


def _wait_words(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return "about a minute" if minutes == 1 else f"about {minutes} minutes"


@dataclass
class Sandbox:
    """Everything the sandbox needs; one per process (hub-mounted or standalone)."""

    database: Database
    clock: Clock
    directory: Directory
    vault: Vault
    demo: bool = False
    http: HttpFactory = field(default=default_http)

    def today(self) -> date:
        return self.clock.now().date()


def credentials_vault(secret_key: str) -> Vault:
    return Vault(secret_key, purpose="sandbox-bank-credentials")


# -- companies ------------------------------------------------------------------------------------
def companies(sb: Sandbox) -> list[SandboxCompany]:
    from bankfeeds.sandbox import seed

    with sb.database.unit_of_work() as session:
        repo = SandboxRepository(session)
        rows = repo.companies()
        if rows:
            return rows
        seed.seed(session, sb.clock)
        return repo.companies()


def company(sb: Sandbox, company_id: uuid.UUID) -> SandboxCompany:
    with sb.database.unit_of_work() as session:
        row = SandboxRepository(session).company(company_id)
    if row is None:
        raise NotFound(f"There is no sandbox company {company_id}. Sign in again from the sandbox home page.")
    return row


@dataclass
class FeedView:
    feed: SandboxFeed
    account: SandboxAccount
    for_review: int


@dataclass
class BankingView:
    company: SandboxCompany
    feeds: list[FeedView]
    selected: FeedView | None
    transactions: list[SandboxBankTransaction]
    now: datetime


def banking(sb: Sandbox, company_id: uuid.UUID, selected_feed: uuid.UUID | None) -> BankingView:
    with sb.database.unit_of_work() as session:
        repo = SandboxRepository(session)
        comp = repo.company(company_id)
        if comp is None:
            raise NotFound(f"There is no sandbox company {company_id}. Sign in again from the sandbox home page.")
        accounts = {a.id: a for a in repo.accounts(company_id)}
        counts = repo.for_review_counts(company_id)
        views = [FeedView(f, accounts[f.account_id], counts.get(f.account_id, 0)) for f in repo.feeds(company_id)]
        connected = [v for v in views if v.feed.status == CONNECTED]
        selected = next((v for v in views if v.feed.id == selected_feed), None)
        if selected_feed is not None and selected is None:
            raise NotFound("That bank account is not linked in this company.")
        selected = selected or (connected[0] if connected else None)
        txns = repo.for_review(selected.account.id) if selected else []
        return BankingView(comp, views, selected, txns, sb.clock.now())


# -- Link account ---------------------------------------------------------------------------------
def institution(sb: Sandbox, slug: str) -> Institution:
    found = sb.directory.get(slug)
    if found is None:
        raise NotFound("That institution is not in QuickBooks' list. Search for your bank again.")
    return found


def sign_in(
    sb: Sandbox, company_id: uuid.UUID, slug: str, username: str, password: str, accepted_terms: bool
) -> uuid.UUID:
    """Check the credentials against the bank (it must list at least one account) and keep them."""
    inst = institution(sb, slug)
    company(sb, company_id)
    problems = []
    if not accepted_terms:
        problems.append(ValidationItem("accept_terms", "Accept the terms to connect to your bank."))
    if not username:
        problems.append(ValidationItem("username", "Enter your user ID."))
    if not password:
        problems.append(ValidationItem("password", "Enter your password."))
    if problems:
        raise FormError(" ".join(p.message for p in problems), errors=problems)
    client = IdxClient(inst, username, password, sb.http)
    try:
        accounts = client.accounts()
    except IdxUnauthorized:
        raise FormError(
            f"{inst.name} did not recognise that user ID and password. Check the credentials your bank "
            "gave you and try again.",
            errors=[ValidationItem("password", "Wrong user ID or password.")],
        ) from None
    except IdxThrottled as exc:
        at = (sb.clock.now() + timedelta(seconds=exc.retry_after)).strftime("%H:%M")
        raise SignInPaused(
            f"Too many sign-in attempts: {inst.name} has paused sign-ins with these credentials for a while. "
            f"Try again in {_wait_words(exc.retry_after)} (after {at} UTC), with the user ID and password "
            "exactly as your bank gave them.",
            errors=[ValidationItem("password", "Sign-ins paused.")],
        ) from None
    except IdxError as exc:
        raise BadGateway(f"QuickBooks could not sign in to {inst.name}: {exc.message}") from None
    if not accounts:
        raise FormError(f"{inst.name} has no account for QuickBooks to link with these credentials. "
                        "Ask your bank to add the accounts, then try again.")
    with sb.database.unit_of_work() as session:
        login = SandboxBankLogin(
            id=uuid.uuid4(), company_id=company_id, institution_slug=inst.slug, institution_name=inst.name,
            username_encrypted=sb.vault.encrypt(username), password_encrypted=sb.vault.encrypt(password),
            created_at=sb.clock.now(),
        )
        SandboxRepository(session).add(login)
        return login.id


def _login(sb: Sandbox, company_id: uuid.UUID, login_id: uuid.UUID) -> SandboxBankLogin:
    with sb.database.unit_of_work() as session:
        login = SandboxRepository(session).login(company_id, login_id)
    if login is None:
        raise NotFound("This sign-in to your bank is unknown or has expired. Start Link account again.")
    return login


def _client(sb: Sandbox, login: SandboxBankLogin) -> IdxClient:
    inst = sb.directory.get(login.institution_slug)
    if inst is None:
        raise IdxError(f"{login.institution_name} is no longer in QuickBooks' list of institutions.")
    try:
        username = sb.vault.decrypt(login.username_encrypted)
        password = sb.vault.decrypt(login.password_encrypted)
    except VaultError as exc:
        raise IdxError(f"The saved credentials for {login.institution_name} cannot be read ({exc}); "
                       "link the account again.") from None
    return IdxClient(inst, username, password, sb.http)


def target_type_for(kind: str) -> str:
    return "Credit Card" if kind in ("creditcard", "lineofcredit") else "Bank"


@dataclass
class Candidate:
    source: IdxAccount
    already_linked_to: str | None
    default_target: str
    # The account's current feed stopped working (the bank refused QuickBooks): linking it again
    # replaces that feed, into the same QuickBooks account by default.
    replaces: str | None = None


@dataclass
class ChooseView:
    company: SandboxCompany
    login: SandboxBankLogin
    candidates: list[Candidate]
    eligible: list[SandboxAccount]
    today: date
    earliest: date
    default_start: date


def choose_accounts(sb: Sandbox, company_id: uuid.UUID, login_id: uuid.UUID) -> ChooseView:
    login = _login(sb, company_id, login_id)
    try:
        sources = _client(sb, login).accounts()
    except IdxUnauthorized as exc:
        raise FormError(exc.message) from None
    except IdxError as exc:
        raise BadGateway(exc.message) from None
    with sb.database.unit_of_work() as session:
        repo = SandboxRepository(session)
        comp = repo.company(company_id)
        assert comp is not None
        eligible = repo.eligible_accounts(company_id)
        accounts = {a.id: a for a in repo.accounts(company_id)}
        candidates = []
        used: set[uuid.UUID] = set()
        for src in sources:
            linked = repo.connected_feed_for_source(company_id, login.institution_slug, src.id)
            if linked is not None and linked.last_error:
                broken = accounts[linked.account_id]
                eligible.append(broken)
                used.add(broken.id)
                candidates.append(Candidate(src, None, str(broken.id), replaces=broken.name))
                continue
            wanted = target_type_for(src.kind)
            default = next((a for a in eligible if a.account_type == wanted and a.id not in used), None)
            if default is not None and linked is None:
                used.add(default.id)
            candidates.append(Candidate(src, accounts[linked.account_id].name if linked else None,
                                        str(default.id) if default else "new"))
    today = sb.today()
    return ChooseView(comp, login, candidates, eligible, today, today - timedelta(days=MAX_HISTORY_DAYS),
                      today - timedelta(days=30))


@dataclass(frozen=True)
class Selection:
    source_account_id: str
    target: str  # a chart account id, or "new"
    new_name: str = ""  # the name of the new account, when target is "new" (default: the bank's name)


def parse_start_date(raw: str, today: date) -> date:
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        start = date.fromisoformat(raw)
    except ValueError:
        raise FormError("Enter the feed start date as YYYY-MM-DD.",
                        errors=[ValidationItem("feed_start_date", "Not a date.")]) from None
    earliest = today - timedelta(days=MAX_HISTORY_DAYS)
    if start < earliest or start > today:
        raise FormError(
            f"The feed start date must be between {earliest.isoformat()} and {today.isoformat()}: "
            f"QuickBooks downloads at most {MAX_HISTORY_DAYS} days of history.",
            errors=[ValidationItem("feed_start_date", "Out of range.")])
    return start


def connect(
    sb: Sandbox, company_id: uuid.UUID, login_id: uuid.UUID, selections: list[Selection], start_raw: str
) -> list[PullResult]:
    """Create one feed per selected account (mapping it, or a new account), then download each."""
    login = _login(sb, company_id, login_id)
    if not selections:
        raise FormError("Select at least one account to connect.")
    start = parse_start_date(start_raw, sb.today())
    ids = [s.source_account_id for s in selections]
    if len(set(ids)) != len(ids):
        raise FormError("Each bank account can be selected once.")
    try:
        sources = {a.id: a for a in _client(sb, login).accounts()}
    except IdxUnauthorized as exc:
        raise FormError(exc.message) from None
    except IdxError as exc:
        raise BadGateway(exc.message) from None

    now = sb.clock.now()
    feed_ids: list[uuid.UUID] = []
    with sb.database.unit_of_work() as session:
        repo = SandboxRepository(session)
        eligible = {a.id: a for a in repo.eligible_accounts(company_id)}
        targets: set[uuid.UUID] = set()
        for sel in selections:
            src = sources.get(sel.source_account_id)
            if src is None:
                raise FormError(f"{login.institution_name} does not offer the account {sel.source_account_id!r} "
                                "any more. Start Link account again.")
            current = repo.connected_feed_for_source(company_id, login.institution_slug, src.id)
            if current is not None and not current.last_error:
                raise FormError(f"{src.name} is already linked in this company.")
            if current is not None:
                # Its feed stopped working: this link replaces it (the old one is disconnected).
                current.status = DISCONNECTED
                current.active_account_id = None
                current.disconnected_at = now
                session.flush()
                freed = repo.account_by_id(current.account_id)
                if freed is not None:
                    eligible[freed.id] = freed
            if sel.target == "new":
                account = _new_account(repo, company_id, src, now, sel.new_name)
            else:
                try:
                    target_id = uuid.UUID(sel.target)
                except ValueError:
                    raise FormError(f"Choose an account for {src.name}.") from None
                found = eligible.get(target_id)
                if found is None:
                    raise FormError(
                        f"The account chosen for {src.name} cannot take a bank feed: choose a Bank or "
                        "Credit Card account that is not linked yet, or add a new one.")
                account = found
            if account.id in targets:
                raise FormError(f"{account.name} was chosen for two bank accounts; each needs its own account.")
            targets.add(account.id)
            feed = SandboxFeed(
                id=uuid.uuid4(), company_id=company_id, login_id=login.id, account_id=account.id,
                active_account_id=account.id, source_account_id=src.id, source_account_name=src.name,
                source_account_type=src.kind[:30], source_account_mask=src.mask[:20],
                currency=(src.primaryCurrency or account.currency or "USD")[:3], feed_start_date=start,
                status=CONNECTED, watermark=None, bank_balance=src.balance(),
                bank_balance_as_of=now, created_at=now,
            )
            repo.add(feed)
            feed_ids.append(feed.id)
    return [pull_feed(sb, feed_id) for feed_id in feed_ids]


def _new_account(repo: SandboxRepository, company_id: uuid.UUID, src: IdxAccount, now: datetime,
                 wanted_name: str = "") -> SandboxAccount:
    base = (wanted_name.strip() or f"{src.name} {src.mask}".strip())[:180]
    name, n = base, 1
    while repo.account_name_taken(company_id, name):
        n += 1
        name = f"{base} ({n})"
    account_type = target_type_for(src.kind)
    account = SandboxAccount(
        id=uuid.uuid4(), company_id=company_id, name=name, account_type=account_type,
        detail_type="Credit Card" if account_type == "Credit Card" else "Checking",
        currency=(src.primaryCurrency or "USD")[:3], created_at=now,
    )
    repo.add(account)
    return account


# -- pulls ----------------------------------------------------------------------------------------
@dataclass
class PullResult:
    downloaded: int = 0
    error: str | None = None


def pull_feed(sb: Sandbox, feed_id: uuid.UUID) -> PullResult:
    """Download what the bank has for one feed: new transactions go to "For review", once each."""
    with sb.database.unit_of_work() as session:
        repo = SandboxRepository(session)
        feed = repo.feed_by_id(feed_id)
        if feed is None or feed.status != CONNECTED:
            return PullResult()
        login = repo.login_by_id(feed.login_id)
        account_row = repo.account_by_id(feed.account_id)
        assert login is not None and account_row is not None
        source_id, watermark, feed_start = feed.source_account_id, feed.watermark, feed.feed_start_date
        target_id, target_name = str(account_row.id), account_row.name
    today = sb.today()
    oldest = today - timedelta(days=MAX_HISTORY_DAYS)
    start = max(watermark, oldest) if watermark else oldest
    try:
        client = _client(sb, login)
        account = next((a for a in client.accounts() if a.id == source_id), None)
        if account is None:
            raise IdxError(f"{login.institution_name} no longer offers this account to QuickBooks.")
        fetched = client.transactions(source_id, start, today + timedelta(days=1), feed_start_date=feed_start,
                                      target_account_id=target_id, target_account_name=target_name)
    except IdxError as exc:
        _record_failure(sb, feed_id, exc.message)
        return PullResult(error=exc.message)

    with sb.database.unit_of_work() as session:
        repo = SandboxRepository(session)
        feed = repo.feed_by_id(feed_id, for_update=True)
        if feed is None or feed.status != CONNECTED:
            return PullResult()
        now = sb.clock.now()
        keep = []
        for txn in fetched:
            booked, amount = txn.booked_on(), txn.signed_amount()
            # QuickBooks ignores what predates the feed start date or its 90-day window.
            if booked is None or amount is None or booked < feed.feed_start_date or booked < oldest:
                continue
            keep.append((txn, booked, amount))
        known = repo.known_transaction_ids(feed.account_id, [t.transactionId for t, _, _ in keep])
        rows = []
        for txn, booked, amount in keep:
            if txn.transactionId in known:
                continue
            known.add(txn.transactionId)
            rows.append(SandboxBankTransaction(
                id=uuid.uuid4(), feed_id=feed.id, account_id=feed.account_id, transaction_id=txn.transactionId[:200],
                transaction_date=booked, description=(txn.transactionDescription or "")[:1000] or "(no description)",
                payee=txn.payeeName[:500] if txn.payeeName else None, amount=amount,
                currency=((txn.amount.currency if txn.amount else None) or feed.currency)[:3],
                status="for_review", downloaded_at=now,
            ))
        repo.add_transactions(rows)
        balance = account.balance()
        if balance is not None:
            feed.bank_balance = balance
            feed.bank_balance_as_of = now
        # The next pull asks for what was modified from today on: nothing modified earlier is missed,
        # and anything seen twice is recognised by its transactionId.
        feed.watermark = today
        feed.last_pulled_at = now
        feed.last_attempt_at = now
        feed.last_error = None
        session.flush()
        return PullResult(downloaded=len(rows))


def _record_failure(sb: Sandbox, feed_id: uuid.UUID, message: str) -> None:
    log.info("sandbox pull of feed %s failed: %s", feed_id, message)
    with sb.database.unit_of_work() as session:
        feed = SandboxRepository(session).feed_by_id(feed_id, for_update=True)
        if feed is not None:
            feed.last_attempt_at = sb.clock.now()
            feed.last_error = message[:2000]


def update(sb: Sandbox, company_id: uuid.UUID) -> list[PullResult]:
    """The Update button: pull every connected account of the company now."""
    company(sb, company_id)
    with sb.database.unit_of_work() as session:
        ids = SandboxRepository(session).connected_feed_ids(company_id)
    return [pull_feed(sb, i) for i in ids]


def pull_due(sb: Sandbox, limit: int = 50) -> int:
    """The daily schedule: pull each connected feed not tried for a day. Returns how many were tried."""
    now = sb.clock.now()
    with sb.database.unit_of_work() as session:
        ids = SandboxRepository(session).claim_due_feeds(now - PULL_EVERY, now, limit)
    for feed_id in ids:
        pull_feed(sb, feed_id)
    return len(ids)


def disconnect(sb: Sandbox, company_id: uuid.UUID, feed_id: uuid.UUID) -> SandboxFeed:
    with sb.database.unit_of_work() as session:
        feed = SandboxRepository(session).feed(company_id, feed_id, for_update=True)
        if feed is None:
            raise NotFound("That bank account is not linked in this company.")
        if feed.status != CONNECTED:
            raise BadRequest("This account is already disconnected from its bank.")
        feed.status = DISCONNECTED
        feed.active_account_id = None
        feed.disconnected_at = sb.clock.now()
        return feed


def advance_clock(sb: Sandbox, days: int = 1) -> int:
    """Demo mode: move the shared clock forward and run the daily pull it makes due."""
    if not sb.demo:
        raise NotFound("The sandbox clock can only be moved in demo mode.")
    advance = getattr(sb.clock, "advance", None)
    if advance is None:
        raise BadRequest("This clock cannot be moved.")
    advance(timedelta(days=days))
    return pull_due(sb)
