"""Delivering accepted pushes to Xero as statements, and learning their outcome.

A push to a connected Xero account is validated and stored in the request, answered ``Pending``,
and a ``statement_deliveries`` row is written in the same transaction (``enqueue``). The worker
then moves each row along (``Deliverer.process``), one Xero call per step, each step committed:

1. **queued**: build the statement from the push's transactions and ``POST /Statements`` with
   the row's ``Idempotency-Key`` (derived from the push, so a retry after a crash, even one
   that lost Xero's answer, can never create a second statement). Xero's 202 makes the row
   **sent**; its 409 ``duplicate-statement`` means Xero already holds it: **delivered**.
   A refusal (400/403/413/422 problem) makes it **rejected** at once.
2. **sent**: ``GET /Statements/{id}`` until Xero has processed it: ``DELIVERED`` makes the push
   ``Success``, ``REJECTED`` makes it ``Failed`` with Xero's errors in ``validation.errors``;
   ``bankTransactions.write.successful`` / ``unsuccessful`` fire either way.

A rejected push's transactions are removed again, and the account's newest date and balance
recomputed from what is left: what the hub holds for a Xero account is what Xero has or is
about to get, so the duplicate check and the date rules follow delivery, and the bank can
correct the push and send it again.

Faults: 429 (Xero's, or the shared budget's) puts the row off until ``Retry-After``; a 5xx, a
timeout or a dropped connection retries with backoff; ``invalid_grant`` turns the connection
``Deauthorized`` (in ``tokens``) and delivery stops, since only rows of ``Linked`` connections
are claimed (it resumes if the organisation is connected again). A push still undelivered
past ``timeoutInMinutes`` turns ``TimedOut`` (push_operations.tasks) and delivery goes on: the
final outcome still lands.

Rows are leased to one worker while it works on them (``FOR UPDATE SKIP LOCKED``), so many
worker processes share the work; a killed worker's rows come back when the lease ends.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.errors import ValidationItem
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.models import (
    Company,
    Connection,
    ConnectionStatus,
    PushOperation,
    PushOperationStatus,
    SourceAccount,
    StatementDelivery,
    StatementDeliveryStatus,
)
from bankfeeds.platforms.gbol import statements
from bankfeeds.platforms.gbol.repository import OPEN, DeliveryRepository
from bankfeeds.platforms.gbol.xero_api import (
    Access,
    DuplicateStatement,
    InvalidGrant,
    RateLimited,
    Transient,
    XeroApi,
    XeroError,
    XeroProblem,
)
from bankfeeds.push_operations import service as push_operations
from bankfeeds.worker import signals

log = logging.getLogger("bankfeeds.xero")

TOPIC = "xero.statements"
# Backoff after a transient fault, by attempt (then the last value), as webhooks retry.
BACKOFF = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
           timedelta(minutes=30), timedelta(hours=1))

# Longest wait between two questions about one statement still PENDING at Xero.
MAX_POLL = timedelta(minutes=5)

# Why a push whose account lost its feed (removed in Xero, or disconnected) is not sent.
NO_FEED = {"type": "feed-disconnected", "title": "No bank feed",
           "detail": "The source account has no Xero bank feed any more; connect it again, then push again."}

# Gives a live access token for a connection (tokens.access_for, bound to its database and api).
AccessFor = Callable[[uuid.UUID], Access]


def idempotency_key(op_key: uuid.UUID) -> str:
    return f"bankfeeds-statement-{op_key}"


def enqueue(session: Session, clock: Clock, op: PushOperation, account: SourceAccount, written_at: datetime) -> None:
    """The push's statement, due now; written in the push's own transaction (outbox)."""
    DeliveryRepository(session).add(StatementDelivery(
        push_operation_key=op.key, connection_id=op.connection_id, source_account_id=account.id,
        status=StatementDeliveryStatus.QUEUED, idempotency_key=idempotency_key(op.key), statement_id=None, attempts=0,
        next_attempt_at=clock.now(), lease_until=None, last_error=None, created_at=written_at, delivered_at=None,
    ))
    signals.mark(session, TOPIC)


class Deliverer:
    def __init__(self, database: Database, clock: Clock, settings: Settings, api: XeroApi,
                 access_for: AccessFor) -> None:
        self.database = database
        self.clock = clock
        self.settings = settings
        self.api = api
        self.access_for = access_for

    @property
    def lease(self) -> timedelta:
        """Long enough for one step: a wait for an in-flight slot and one call, each bounded by the timeout.
        A killed worker's rows come back when it ends."""
        return timedelta(seconds=2 * self.settings.xero_timeout_seconds + 10)

    def claim(self, limit: int) -> list[uuid.UUID]:
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            return DeliveryRepository(session).claim_due(now, now + self.lease, limit, ConnectionStatus.LINKED)

    def process(self, key: uuid.UUID) -> None:
        """One step of one claimed delivery (see the module doc); every outcome is committed."""
        with self.database.unit_of_work() as session:
            delivery = DeliveryRepository(session).get(key)
            if delivery is None or delivery.status not in OPEN:
                return
            status, statement_id = delivery.status, delivery.statement_id
            statement = self._statement(session, delivery) if status == StatementDeliveryStatus.QUEUED else None
            idem = delivery.idempotency_key
            connection_id = delivery.connection_id
        if status == StatementDeliveryStatus.QUEUED and statement is None:
            self._finish(key, delivered=False, errors=[NO_FEED])
            return
        try:
            access = self.access_for(connection_id)
            if status == StatementDeliveryStatus.QUEUED:
                assert statement is not None
                answer = self.api.create_statement(access, statement, idempotency_key=idem)
            else:
                assert statement_id is not None
                answer = self.api.get_statement(access, statement_id)
        except DuplicateStatement:
            self._finish(key, delivered=True, errors=[])
            return
        except XeroProblem as exc:
            if exc.status in (401,) or exc.status >= 500:
                self._retry(key, exc, None)
            else:
                self._finish(key, delivered=False, errors=[exc.as_error()])
            return
        except RateLimited as exc:
            self._put_off(key, exc.retry_at, exc)
            return
        except InvalidGrant:
            # tokens.access_for has turned the connection Deauthorized; the row waits, unclaimed.
            self._release(key)
            return
        except Transient as exc:
            self._retry(key, exc, exc.retry_at)
            return
        except XeroError as exc:
            self._retry(key, exc, None)
            return
        self._advance(key, status, answer)

    # -- steps --------------------------------------------------------------------------------

    def _statement(self, session: Session, delivery: StatementDelivery) -> dict[str, Any] | None:
        """The push as a statement; None when the account has no Xero feed any more."""
        repo = DeliveryRepository(session)
        _, account, _ = repo.context(delivery)
        if not account.feed_connection_id:
            return None
        rows = repo.lines(delivery)
        lines = [
            statements.Line(
                transaction_id=r.transaction_id, date=r.date, description=r.description, counterparty=r.counterparty,
                reference=r.reference, amount=r.amount, balance=r.balance if r.balance is not None else r.amount,
                transaction_type=r.transaction_type,
            )
            for r in rows
        ]
        return statements.build(account.feed_connection_id, lines)

    def _advance(self, key: uuid.UUID, was: str, answer: dict[str, Any]) -> None:
        state = str(answer.get("status") or "").upper()
        if state == "DELIVERED":
            self._finish(key, delivered=True, errors=[])
        elif state == "REJECTED":
            self._finish(key, delivered=False, errors=statements.errors_of(answer))
        else:
            with self.database.unit_of_work() as session:
                delivery = DeliveryRepository(session).get(key, for_update=True)
                if delivery is None or delivery.status not in OPEN:
                    return
                # Each poll spends one of the tenant's 60 calls a minute: ask again later and later.
                wait = min(self.settings.xero_statement_poll_seconds * 2 ** max(0, delivery.attempts - 1),
                           MAX_POLL.total_seconds())
                poll = self.clock.now() + timedelta(seconds=wait)
                if was == StatementDeliveryStatus.QUEUED:
                    delivery.statement_id = str(answer.get("id") or "") or None
                    delivery.status = (StatementDeliveryStatus.SENT if delivery.statement_id
                                       else StatementDeliveryStatus.QUEUED)
                delivery.next_attempt_at = poll
                delivery.lease_until = None
                delivery.last_error = None

    def _finish(self, key: uuid.UUID, *, delivered: bool, errors: list[dict[str, Any]]) -> None:
        with self.database.unit_of_work() as session:
            repo = DeliveryRepository(session)
            delivery = repo.get(key, for_update=True)
            if delivery is None or delivery.status not in OPEN:
                return
            op, account, connection = repo.context(delivery)
            company = connection.company
            now = self.clock.now()
            delivery.lease_until = None
            if delivered:
                delivery.status = StatementDeliveryStatus.DELIVERED
                delivery.delivered_at = now
                delivery.last_error = None
                if op.status in (PushOperationStatus.PENDING, PushOperationStatus.TIMED_OUT):
                    push_operations.succeed(session, self.clock, self.settings, company, op, account.account_id)
                return
            delivery.status = StatementDeliveryStatus.REJECTED
            delivery.last_error = {"errors": errors}
            self._forget(session, repo, delivery, account)
            _fail_push(session, self.clock, self.settings, company, op, account, errors)

    def _forget(self, session: Session, repo: DeliveryRepository, delivery: StatementDelivery,
                account: SourceAccount) -> None:
        """Take back a rejected push's transactions and reset the account to what is left."""
        locked = session.get(SourceAccount, account.id, with_for_update=True, populate_existing=True)
        assert locked is not None
        repo.forget_lines(delivery)
        newest = repo.newest(locked.id)
        locked.newest_transaction_date = newest.date if newest is not None else None
        if newest is not None and newest.balance is not None:
            locked.balance = newest.balance
        locked.modified_at = self.clock.now()

    def _retry(self, key: uuid.UUID, exc: Exception, retry_at: datetime | None) -> None:
        with self.database.unit_of_work() as session:
            delivery = DeliveryRepository(session).get(key, for_update=True)
            if delivery is None or delivery.status not in OPEN:
                return
            backoff = BACKOFF[min(max(delivery.attempts - 1, 0), len(BACKOFF) - 1)]
            due = self.clock.now() + backoff
            delivery.next_attempt_at = max(due, retry_at) if retry_at is not None else due
            delivery.lease_until = None
            delivery.last_error = {"message": str(exc), "kind": type(exc).__name__}
        log.info("xero statement %s: %s; retrying at %s", key, type(exc).__name__, delivery.next_attempt_at)

    def _put_off(self, key: uuid.UUID, until: datetime, exc: Exception) -> None:
        with self.database.unit_of_work() as session:
            delivery = DeliveryRepository(session).get(key, for_update=True)
            if delivery is None or delivery.status not in OPEN:
                return
            delivery.next_attempt_at = until
            delivery.lease_until = None
            # Waiting out a rate limit is not a failed attempt.
            delivery.attempts = max(0, delivery.attempts - 1)
            delivery.last_error = {"message": str(exc), "kind": type(exc).__name__}

    def _release(self, key: uuid.UUID) -> None:
        with self.database.unit_of_work() as session:
            delivery = DeliveryRepository(session).get(key, for_update=True)
            if delivery is not None:
                delivery.lease_until = None


def _fail_push(session: Session, clock: Clock, settings: Settings, company: Company, op: PushOperation,
               account: SourceAccount, errors: list[dict[str, Any]]) -> None:
    items = [
        ValidationItem(account.account_id, f"Xero rejected the statement: {_describe(e)}",
                       f"Xero:{e.get('type') or 'rejected'}")
        for e in errors
    ] or [ValidationItem(account.account_id, "Xero rejected the statement.", "Xero:rejected")]
    push_operations.set_findings(op, items, _warnings(op))
    if op.status in (PushOperationStatus.PENDING, PushOperationStatus.TIMED_OUT):
        push_operations.fail(
            session, clock, settings, company, op,
            f"Xero rejected the statement for account {account.account_id}: {items[0].message}. Nothing of this "
            "push is held; correct the transactions and push them again.",
        )


def _warnings(op: PushOperation) -> list[ValidationItem]:
    raw = (op.validation or {}).get("warnings") or []
    return [ValidationItem(w.get("itemId"), w.get("message") or "", w.get("validatorName")) for w in raw]


def _describe(error: dict[str, Any]) -> str:
    detail = str(error.get("detail") or "").strip()
    title = str(error.get("title") or "").strip()
    kind = str(error.get("type") or "").strip()
    text = detail or title or kind or "no reason given"
    return f"{text} ({kind})" if kind and kind not in text else text


def open_for(session: Session, connection: Connection) -> int:
    return DeliveryRepository(session).open_count(connection.id)
