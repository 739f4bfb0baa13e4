"""Writing bank transactions to a source account (create-bank-transactions).

How each problem is reported, the Codat way:

* **Plain 400 ErrorMessage, nothing stored, no push operation** — the request itself is malformed,
  whatever the platform: body not JSON or not the ``CreateBankTransactions`` shape, a string where an
  amount or date goes, an unknown ``transactionType``, a non-boolean ``reconciled``, an ``id`` over 200
  characters, more than 1000 transactions, body ``accountId`` different from the path's, a bad
  ``timeoutInMinutes`` / ``allowSyncOnPushComplete``.
* **404** — unknown (or malformed) company, connection or source account; nothing stored.
* **200 with a push operation ``Failed``** (``statusCode`` 400, ``errorMessage``, ``validation.errors``
  whose ``itemId`` is the offending transaction's id, or ``transactions[i]`` when it has none) — the
  platform's rules about the content or the account's state: a field the platform requires is missing
  (QuickBooks: id, date, description, amount, balance; Xero: id, date, amount, balance), a
  ``transactionType`` the platform does not take (QuickBooks: Credit/Debit/Unknown only), dates out of
  chronological order, a date older than the newest transaction already written to the account, a
  future date, a Xero date more than a year old, a source account that is not ``connected`` or a
  connection that is not ``Linked``. Nothing of the batch is stored; the operation and a
  ``bankTransactions.write.unsuccessful`` event are.
* **Warnings on a successful operation** — an amount whose sign contradicts ``transactionType``
  (stored as sent), and a transaction id already stored for the account or repeated in the request
  (skipped, never stored twice).

A QuickBooks write completes in the request: validated, bulk-inserted and marked ``Success`` in the
request's transaction, so a 200 is durable; QuickBooks then pulls over IDX. A Xero write is
validated and stored the same way but its operation stays ``Pending`` (delivery to Xero is not built
yet); ``timeoutInMinutes`` moves it to ``TimedOut`` (push_operations/tasks.py).

Concurrent writers to one account take turns on a row lock of the source account (PostgreSQL;
SQLite serialises writers with BEGIN IMMEDIATE), so the newest-date rule and the balance see every
committed write. The duplicate check is the insert itself (INSERT ... ON CONFLICT DO NOTHING on the
unique (account, transaction id) constraint, RETURNING what was new): one statement, and a stored
id can never be stored twice. The hot lane (``endpoints.py``) assumes every id new, so on
PostgreSQL the insert goes in the statement of the push's other writes; a push with a repeat
(a retry) is rolled back there and written again by the route, which does not assume. Locks are
taken company (key share) first, then the account, the order a company delete takes them in, so a
write racing a delete ends in 200 or 404, never a deadlock.
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bankfeeds.api_keys import service as api_keys
from bankfeeds.bank_transactions.repository import BankTransactionRepository
from bankfeeds.bank_transactions.schemas import (
    MAX_TRANSACTIONS,
    BankTransactionIn,
    CreateBankTransactions,
    PushFieldValidation,
    PushOption,
    PushOptionChoice,
    PushOptionProperty,
    PushValidationInfo,
)
from bankfeeds.companies import service as companies
from bankfeeds.config import Settings
from bankfeeds.connections import service as connections
from bankfeeds.errors import BadRequest, NotFound, ServiceUnavailable, ValidationItem
from bankfeeds.feed_health import service as feed_health
from bankfeeds.kit import driver_sql
from bankfeeds.kit.clock import Clock
from bankfeeds.models import Company, Connection, ConnectionStatus, PushOperation, SourceAccount, SourceAccountStatus
from bankfeeds.observability import metrics
from bankfeeds.platforms import PLATFORMS, write_rules
from bankfeeds.platforms.base import Platform
from bankfeeds.push_operations import service as push_operations

INT32_MAX = 2**31 - 1


def parse_timeout(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'timeoutInMinutes' must be a whole number of minutes, not '{raw}'.") from None
    if not 1 <= value <= INT32_MAX:
        raise BadRequest(f"'timeoutInMinutes' must be between 1 and {INT32_MAX}.")
    return value


def parse_allow_sync(raw: str | None) -> bool:
    """``allowSyncOnPushComplete`` (default true). Accepted and validated; there is no read sync to run."""
    if raw is None or raw == "":
        return True
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise BadRequest(f"'allowSyncOnPushComplete' must be true or false, not '{raw}'.")
    return lowered == "true"


def resolve(
    session: Session, company_id: uuid.UUID, connection_id: uuid.UUID, account_id: str, *, for_write: bool = False
) -> tuple[Company, Connection, SourceAccount]:
    """The path's company, connection and source account, or the Codat 404 for the first one missing.

    ``for_write`` locks them for a write to the account until the transaction ends (PostgreSQL:
    the company against deletion, the account against other writers; ``BankTransactionRepository.target``).
    """
    found = BankTransactionRepository(session).target(company_id, connection_id, account_id, for_write=for_write)
    if found is not None:
        return found
    company = companies.get(session, company_id)
    connections.get(session, company, connection_id)
    raise NotFound(f"Source account {account_id} not found on data connection {connection_id}")


def resolve_for_key(
    session: Session, clock: Clock, authorization: str | None, company_id: uuid.UUID, connection_id: uuid.UUID,
    account_id: str,
) -> tuple[Company, Connection, SourceAccount] | None:
    """A push's authentication and its target (``resolve(for_write=True)``) in one query: the target
    for a caller with a valid API key (its use recorded), or None if the key or the target is
    missing (``api_keys.authenticate`` and ``resolve`` then say which); ``Unauthorized`` for a
    malformed ``Authorization``."""
    key_hash = api_keys.digest(authorization)
    found = BankTransactionRepository(session).target_for_key(key_hash, company_id, connection_id, account_id)
    if found is None:
        return None
    key, company, connection, account = found
    api_keys.accept(session, key, key_hash, clock)
    return company, connection, account


def write(
    session: Session,
    clock: Clock,
    settings: Settings,
    *,
    company_id: uuid.UUID,
    connection_id: uuid.UUID,
    account_id: str,
    body: CreateBankTransactions,
    timeout_in_minutes: int | None,
    target: tuple[Company, Connection, SourceAccount] | None = None,
    assume_new: bool = False,
) -> PushOperation:
    """Validate and store a batch; returns its push operation (see the module docstring).

    ``target``: the path's company, connection and account, already read and locked for the write
    (``resolve_for_key``); else read here. ``assume_new``: the batch's ids are taken as new to the
    account (the common case) and the insert goes with the push's other writes (PostgreSQL: one
    statement, one round trip fewer); if one was not, ``driver_sql.NotAsExpected`` is raised and
    the transaction is to be rolled back (the caller then writes the push without assuming)."""
    if body.account_id != account_id:
        raise BadRequest(
            f"The body's accountId '{body.account_id}' does not match the accountId in the path "
            f"'{account_id}'; a request writes to one account.",
            errors=[ValidationItem("accountId", "must equal the accountId in the path", "AccountId")],
        )
    company, connection, account = target or resolve(session, company_id, connection_id, account_id, for_write=True)
    op = push_operations.start(
        session, clock,
        company_id=company.id, connection_id=connection.id, source_account_id=account.account_id,
        timeout_in_minutes=timeout_in_minutes, transaction_count=len(body.transactions),
    )
    # The push's own rows (the account's new tip, the event, the operation) go together at the end
    # (PostgreSQL: one statement).
    with driver_sql.batched(session):
        _store(session, clock, settings, company, connection, account, op, body.transactions, assume_new)
        # The operation's row is written once, with its outcome (Success, Failed or Pending).
        push_operations.save(session, op)
    return op


def _store(
    session: Session, clock: Clock, settings: Settings, company: Company, connection: Connection,
    account: SourceAccount, op: PushOperation, txns: list[BankTransactionIn], assume_new: bool = False,
) -> None:
    """Check ``txns`` against the account and the platform's rules and store the new ones; the
    outcome goes on ``op`` (Failed with its findings, or accepted as the platform says)."""
    platform: Platform = PLATFORMS[connection.platform_key]
    repo = BankTransactionRepository(session)
    # ``account`` was read under its lock (``resolve(for_write=True)``): no other writer changes it
    # before this transaction ends.
    refusal = _state_refusal(platform, connection, account)
    if refusal is not None:
        push_operations.set_findings(op, [refusal], [])
        push_operations.fail(session, clock, settings, company, op, f"Push failed: {refusal.message}")
        return

    now = clock.now()
    verdict = write_rules.check_batch(platform, txns, now=now)
    if verdict.failed:
        _fail_validation(session, clock, settings, company, op, verdict.errors, verdict.warnings)
        return

    new = [txns[i] for i in verdict.new]
    newest = account.newest_transaction_date
    # Only a transaction dated before the account's newest can break the newest-date rule, and only
    # if it is new rather than a repeat: decided by the insert, undone (savepoint) if so.
    suspects = write_rules.older_than_newest(txns, verdict.new, newest)
    # Feed health: where the balance chain stood before this push (see the warning below).
    chain_start = feed_health.chain_start(account)
    savepoint = session.begin_nested() if suspects else None
    try:
        # A late transaction is checked under a savepoint, against what the insert found new.
        inserted = repo.insert_new(account.id, op.key, now, new, assume_new=assume_new and savepoint is None)
    except IntegrityError:
        # Only a foreign key can fail here (the unique constraint is ON CONFLICT DO NOTHING).
        raise ServiceUnavailable("The account changed while the transactions were written; retry.") from None
    if savepoint is not None:
        assert newest is not None
        late = write_rules.too_old(txns, [i for i in suspects if txns[i].id in inserted], newest)
        if late:
            savepoint.rollback()
            _fail_validation(session, clock, settings, company, op, late, verdict.warnings)
            return
        savepoint.commit()

    if len(inserted) == len(new):  # the usual case: every id was new to the account
        repeats, stored = [], new
    else:
        repeats = [i for i in verdict.new if txns[i].id not in inserted]
        stored = [t for t in new if t.id in inserted]
    # Feed health: a push whose balances do not follow the account's chain (a gap, a duplicate at the
    # bank's side, two transactions swapped) is accepted with a warning, never refused.
    chain_warnings = feed_health.push_chain_warnings(
        session, account, chain_start,
        [(t.id, t.amount, t.balance) for t in stored if t.id is not None and t.amount is not None], op.key)
    push_operations.set_findings(op, [], verdict.warnings + write_rules.already_written(txns, repeats) + chain_warnings)
    op.transaction_count = len(stored)
    if stored:
        last = stored[-1]
        repo.set_account_tip(
            account, last,
            balance=last.balance if last.balance is not None else account.balance,
            newest=last.date if last.date is not None and (newest is None or last.date > newest) else newest,
            modified_at=now,
        )
    # QuickBooks completes here (it pulls over IDX); Xero leaves it Pending for the worker's delivery.
    platform.accepted(session, clock, settings, company, op, account if stored else None, written_at=now)
    if stored:
        accepted = len(stored)
        metrics.on_commit(session, lambda: metrics.TRANSACTIONS_ACCEPTED.labels(platform.key).inc(accepted))


def _fail_validation(
    session: Session, clock: Clock, settings: Settings, company: Company, op: PushOperation,
    errors: list[ValidationItem], warnings: list[ValidationItem],
) -> None:
    push_operations.set_findings(op, errors, warnings)
    push_operations.fail(
        session, clock, settings, company, op,
        f"Push failed for bankTransactions: {len(errors)} validation error(s), see validation for more "
        f"information. First: {errors[0].message}",
    )


def _state_refusal(platform: Platform, connection: Connection, account: SourceAccount) -> ValidationItem | None:
    if connection.status != ConnectionStatus.LINKED:
        return ValidationItem(
            account.account_id,
            f"The data connection is {connection.status}; transactions can only be written while it is "
            f"{ConnectionStatus.LINKED}.",
            "ConnectionStatus",
        )
    if account.status != SourceAccountStatus.CONNECTED:
        return ValidationItem(
            account.account_id,
            f"The source account is {account.status}; transactions can only be written to a "
            f"{SourceAccountStatus.CONNECTED} account (one mapped to a target account in {platform.name}).",
            "SourceAccountStatus",
        )
    return None


def create_model(session: Session, company_id: uuid.UUID, connection_id: uuid.UUID, account_id: str) -> PushOption:
    """get-create-bank-transactions-model: the fields the connection's platform takes."""
    _, connection, _ = resolve(session, company_id, connection_id, account_id)
    platform: Platform = PLATFORMS[connection.platform_key]
    fields: dict[str, PushOptionProperty] = {}
    for rule in write_rules.field_rules(platform):
        fields[rule.name] = PushOptionProperty(
            type=rule.type,
            display_name=rule.display_name,
            description=rule.description,
            required=rule.required,
            options=[
                PushOptionChoice(value=v, display_name=v, description=f"{v} transaction", required=False)
                for v in rule.options
            ] if rule.options else None,
            validation=PushValidationInfo(
                information=[PushFieldValidation(field=rule.name, details=d) for d in rule.information]
            ) if rule.information else None,
        )
    limit = min(platform.max_transactions_per_write, MAX_TRANSACTIONS)
    return PushOption(
        type="Object",
        display_name="Bank transactions",
        description=f"Bank transactions written to a source account of a {platform.name} connection.",
        required=True,
        properties={
            "accountId": PushOptionProperty(
                type="String", display_name="Account ID", required=True,
                description="The source account's id; must equal the accountId in the path.",
            ),
            "transactions": PushOptionProperty(
                type="Array", display_name="Transactions", required=True,
                description=f"At most {limit} transactions, in chronological order.",
                properties=fields,
            ),
        },
        validation=PushValidationInfo(information=[
            PushFieldValidation(field="transactions", details=f"At most {limit} transactions per request."),
            PushFieldValidation(
                field="balance", details="The balance of the last transaction becomes the account's balance."
            ),
        ]),
    )
