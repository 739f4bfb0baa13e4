"""All SQL of the console: operators, sessions, the audit log, search, lists and the overview's charts.

Every list is bounded (a limit, a date range on an indexed column).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, delete, func, or_, select

from bankfeeds.kit.repository import RepositoryBase
from bankfeeds.models import (
    Company,
    Connection,
    ConnectionStatus,
    FeedPull,
    Operator,
    OperatorAudit,
    OperatorSession,
    PushOperation,
    PushOperationStatus,
    SourceAccount,
    SourceAccountStatus,
    StatementDelivery,
    StatementDeliveryStatus,
    WebhookAttempt,
)

SEARCH_LIMIT = 50

ACCEPTED_PUSHES = (PushOperationStatus.SUCCESS, PushOperationStatus.PENDING)
FAILED_PUSHES = (PushOperationStatus.FAILED, PushOperationStatus.TIMED_OUT)
OPEN_STATEMENTS = (StatementDeliveryStatus.QUEUED, StatementDeliveryStatus.SENT)


class ConsoleRepository(RepositoryBase):
    # ------------------------------------------------------------------ operators and sessions

    def operator_by_name(self, username: str) -> Operator | None:
        return self.session.scalars(select(Operator).where(Operator.username == username)).one_or_none()

    def operator(self, operator_id: uuid.UUID) -> Operator | None:
        return self.session.get(Operator, operator_id)

    def operators(self) -> list[Operator]:
        return list(self.session.scalars(select(Operator).order_by(Operator.username)))

    def login_session(self, session_id: str) -> OperatorSession | None:
        return self.session.get(OperatorSession, session_id)

    def end_session(self, session_id: str) -> None:
        self.session.execute(delete(OperatorSession).where(OperatorSession.id == session_id))

    def end_sessions_of(self, operator_id: uuid.UUID) -> None:
        self.session.execute(delete(OperatorSession).where(OperatorSession.operator_id == operator_id))

    def purge_sessions(self, now: datetime) -> None:
        self.session.execute(delete(OperatorSession).where(OperatorSession.expires_at <= now))

    def audit(self, limit: int = 200) -> list[OperatorAudit]:
        return list(self.session.scalars(select(OperatorAudit).order_by(OperatorAudit.seq.desc()).limit(limit)))

    # ------------------------------------------------------------------ search

    def search(self, text: str) -> list[Company]:
        """Companies by id, name (contains), connection id, source account id or account number."""
        found: dict[uuid.UUID, Company] = {}
        try:
            key = uuid.UUID(text)
        except ValueError:
            key = None
        if key is not None:
            by_id = self.session.get(Company, key)
            if by_id is not None:
                found[by_id.id] = by_id
            for company in self.session.scalars(
                    select(Company).join(Connection, Connection.company_id == Company.id).where(Connection.id == key)):
                found[company.id] = company
        for company in self.session.scalars(
                select(Company).join(Connection, Connection.company_id == Company.id)
                .join(SourceAccount, SourceAccount.connection_id == Connection.id)
                .where(or_(SourceAccount.account_number == text, SourceAccount.account_id == text))
                .limit(SEARCH_LIMIT)):
            found[company.id] = company
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        for company in self.session.scalars(
                select(Company).where(func.lower(Company.name).like(f"%{escaped.lower()}%", escape="\\"))
                .order_by(Company.name).limit(SEARCH_LIMIT)):
            found[company.id] = company
        return list(found.values())[:SEARCH_LIMIT]

    def company(self, company_id: uuid.UUID) -> Company | None:
        return self.session.get(Company, company_id)

    # ------------------------------------------------------------------ push operations

    def pushes(self, *, status: str | None, company_id: uuid.UUID | None, since: datetime | None,
               limit: int) -> list[tuple[PushOperation, str]]:
        stmt = select(PushOperation, Company.name).join(Company, Company.id == PushOperation.company_id)
        if status:
            stmt = stmt.where(PushOperation.status == status)
        if company_id is not None:
            stmt = stmt.where(PushOperation.company_id == company_id)
        if since is not None:
            stmt = stmt.where(PushOperation.requested_at >= since)
        rows = self.session.execute(stmt.order_by(PushOperation.requested_at.desc()).limit(limit))
        return [(op, str(name)) for op, name in rows]

    # ------------------------------------------------------------------ the overview

    def accepted_per_day(self, since: datetime) -> list[tuple[Any, int]]:
        day = func.date(PushOperation.requested_at)
        rows = self.session.execute(
            select(day, func.sum(PushOperation.transaction_count))
            .where(PushOperation.requested_at >= since, PushOperation.status.in_(ACCEPTED_PUSHES))
            .group_by(day))
        return [(d, int(n or 0)) for d, n in rows]

    def pulls_per_day(self, since: datetime) -> list[tuple[Any, int, int]]:
        day = func.date(FeedPull.pulled_at)
        rows = self.session.execute(
            select(day, func.count(), func.sum(FeedPull.transactions)).where(FeedPull.pulled_at >= since).group_by(day))
        return [(d, int(n or 0), int(t or 0)) for d, n, t in rows]

    def statements_delivered_per_day(self, since: datetime) -> list[tuple[Any, int]]:
        day = func.date(StatementDelivery.delivered_at)
        rows = self.session.execute(
            select(day, func.sum(PushOperation.transaction_count))
            .join(PushOperation, PushOperation.key == StatementDelivery.push_operation_key)
            .where(StatementDelivery.delivered_at >= since).group_by(day))
        return [(d, int(n or 0)) for d, n in rows]

    def failures_per_day(self, since: datetime) -> list[tuple[Any, int]]:
        day = func.date(PushOperation.requested_at)
        rows = self.session.execute(
            select(day, func.count())
            .where(PushOperation.requested_at >= since, PushOperation.status.in_(FAILED_PUSHES))
            .group_by(day))
        return [(d, int(n or 0)) for d, n in rows]

    def webhook_attempts_per_day(self, since: datetime) -> list[tuple[Any, bool, int]]:
        day = func.date(WebhookAttempt.attempted_at)
        rows = self.session.execute(
            select(day, WebhookAttempt.success, func.count())
            .where(WebhookAttempt.attempted_at >= since).group_by(day, WebhookAttempt.success))
        return [(d, bool(s), int(n or 0)) for d, s, n in rows]

    def attention_candidates(self, *, quiet_since: datetime, day_ago: datetime, week_ago: datetime,
                             limit: int) -> list[tuple[Company, Connection, SourceAccount]]:
        """Feeds likely to need attention (the console computes their full health after):
        disconnected; QuickBooks feeds not pulled since ``quiet_since`` (close to the inactivity
        disconnection), or written to since a pull more than a day old; Xero statements open for
        over a day or rejected this week; pushes that failed or broke the balance chain this week."""
        connected = SourceAccount.status == SourceAccountStatus.CONNECTED
        stale_pull = and_(Connection.platform_key == "hcws", connected, or_(
            func.coalesce(SourceAccount.last_pulled_at, SourceAccount.connected_at) < quiet_since,
            and_(SourceAccount.last_pulled_at < day_ago, SourceAccount.modified_at > SourceAccount.last_pulled_at),
        ))
        statements = select(StatementDelivery.source_account_id).where(or_(
            and_(StatementDelivery.status.in_(OPEN_STATEMENTS), StatementDelivery.created_at < day_ago),
            and_(StatementDelivery.status == StatementDeliveryStatus.REJECTED,
                 StatementDelivery.created_at >= week_ago),
        ))
        pushed = (select(PushOperation.connection_id, PushOperation.source_account_id)
                  .where(PushOperation.requested_at >= week_ago, or_(
                      PushOperation.status.in_(FAILED_PUSHES),
                      cast(PushOperation.validation, String).like("%BalanceChain%")))).subquery()
        troubled = (select(SourceAccount.id)
                    .join(pushed, and_(pushed.c.connection_id == SourceAccount.connection_id,
                                       pushed.c.source_account_id == SourceAccount.account_id)))
        rows = self.session.execute(
            select(Company, Connection, SourceAccount)
            .join(Connection, Connection.id == SourceAccount.connection_id)
            .join(Company, Company.id == Connection.company_id)
            .where(or_(
                SourceAccount.status == SourceAccountStatus.DISCONNECTED,
                Connection.status.in_((ConnectionStatus.UNLINKED, ConnectionStatus.DEAUTHORIZED)),
                stale_pull,
                SourceAccount.id.in_(statements),
                SourceAccount.feed_error.is_not(None),
                SourceAccount.id.in_(troubled),
            ))
            .order_by(SourceAccount.modified_at.desc()).limit(limit))
        return [(c, n, a) for c, n, a in rows]
