"""All SQL of the Xero sandbox (its own ``xero_sandbox_*`` tables only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from bankfeeds.kit.repository import RepositoryBase
from bankfeeds.models import (
    XeroSandboxAccount,
    XeroSandboxAuthCode,
    XeroSandboxCall,
    XeroSandboxClient,
    XeroSandboxConnection,
    XeroSandboxFeedConnection,
    XeroSandboxGrant,
    XeroSandboxIdempotencyKey,
    XeroSandboxMembership,
    XeroSandboxOrganisation,
    XeroSandboxStatement,
    XeroSandboxStatementLine,
    XeroSandboxToken,
    XeroSandboxUser,
)


class XeroSandboxRepository(RepositoryBase):
    # -- people, organisations, clients ---------------------------------------------------------
    def user_by_email(self, email: str) -> XeroSandboxUser | None:
        stmt = select(XeroSandboxUser).where(func.lower(XeroSandboxUser.email) == email.lower())
        return self.session.scalars(stmt).first()

    def user(self, user_id: uuid.UUID) -> XeroSandboxUser | None:
        return self.session.get(XeroSandboxUser, user_id)

    def users(self) -> list[XeroSandboxUser]:
        return list(self.session.scalars(select(XeroSandboxUser).order_by(XeroSandboxUser.email)))

    def organisation(self, organisation_id: uuid.UUID) -> XeroSandboxOrganisation | None:
        return self.session.get(XeroSandboxOrganisation, organisation_id)

    def organisation_by_name(self, name: str) -> XeroSandboxOrganisation | None:
        stmt = select(XeroSandboxOrganisation).where(XeroSandboxOrganisation.name == name)
        return self.session.scalars(stmt).first()

    def organisations_of(self, user_id: uuid.UUID) -> list[XeroSandboxOrganisation]:
        stmt = (
            select(XeroSandboxOrganisation)
            .join(XeroSandboxMembership, XeroSandboxMembership.organisation_id == XeroSandboxOrganisation.id)
            .where(XeroSandboxMembership.user_id == user_id)
            .order_by(XeroSandboxOrganisation.name)
        )
        return list(self.session.scalars(stmt))

    def membership(self, user_id: uuid.UUID, organisation_id: uuid.UUID) -> XeroSandboxMembership | None:
        return self.session.get(XeroSandboxMembership, (user_id, organisation_id))

    def client(self, client_id: str) -> XeroSandboxClient | None:
        return self.session.get(XeroSandboxClient, client_id)

    # -- OAuth ----------------------------------------------------------------------------------
    def code_by_hash(self, code_hash: str) -> XeroSandboxAuthCode | None:
        stmt = select(XeroSandboxAuthCode).where(XeroSandboxAuthCode.code_hash == code_hash)
        return self.session.scalars(stmt).first()

    def spend_code(self, code_id: uuid.UUID, now: datetime) -> bool:
        """Mark a code used; False if another request used it first."""
        result = self.session.execute(
            update(XeroSandboxAuthCode)
            .where(XeroSandboxAuthCode.id == code_id, XeroSandboxAuthCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def token_by_hash(self, token_hash: str) -> XeroSandboxToken | None:
        stmt = select(XeroSandboxToken).where(XeroSandboxToken.token_hash == token_hash)
        return self.session.scalars(stmt).first()

    def spend_token(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Spend a refresh token once; False if it was spent already (two refreshes raced)."""
        result = self.session.execute(
            update(XeroSandboxToken)
            .where(XeroSandboxToken.id == token_id, XeroSandboxToken.spent_at.is_(None))
            .values(spent_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def grant(self, grant_id: uuid.UUID) -> XeroSandboxGrant | None:
        return self.session.get(XeroSandboxGrant, grant_id)

    def connections(self, client_id: str, user_id: uuid.UUID) -> list[XeroSandboxConnection]:
        stmt = (
            select(XeroSandboxConnection)
            .where(XeroSandboxConnection.client_id == client_id, XeroSandboxConnection.user_id == user_id)
            .order_by(XeroSandboxConnection.created_at, XeroSandboxConnection.id)
        )
        return list(self.session.scalars(stmt))

    def connection_for(
        self, client_id: str, user_id: uuid.UUID, organisation_id: uuid.UUID
    ) -> XeroSandboxConnection | None:
        stmt = select(XeroSandboxConnection).where(
            XeroSandboxConnection.client_id == client_id, XeroSandboxConnection.user_id == user_id,
            XeroSandboxConnection.organisation_id == organisation_id)
        return self.session.scalars(stmt).first()

    def delete(self, row: Any) -> None:
        self.session.delete(row)
        self.session.flush()

    # -- chart of accounts ----------------------------------------------------------------------
    def accounts(self, organisation_id: uuid.UUID) -> list[XeroSandboxAccount]:
        stmt = (select(XeroSandboxAccount).where(XeroSandboxAccount.organisation_id == organisation_id)
                .order_by(XeroSandboxAccount.type, XeroSandboxAccount.code, XeroSandboxAccount.name))
        return list(self.session.scalars(stmt))

    def account(self, organisation_id: uuid.UUID, account_id: uuid.UUID) -> XeroSandboxAccount | None:
        stmt = select(XeroSandboxAccount).where(XeroSandboxAccount.id == account_id,
                                                XeroSandboxAccount.organisation_id == organisation_id)
        return self.session.scalars(stmt).first()

    def bank_accounts(self, organisation_id: uuid.UUID) -> list[XeroSandboxAccount]:
        stmt = (select(XeroSandboxAccount)
                .where(XeroSandboxAccount.organisation_id == organisation_id, XeroSandboxAccount.type == "BANK")
                .order_by(XeroSandboxAccount.name))
        return list(self.session.scalars(stmt))

    def account_name_taken(self, organisation_id: uuid.UUID, name: str) -> bool:
        stmt = select(func.count()).select_from(XeroSandboxAccount).where(
            XeroSandboxAccount.organisation_id == organisation_id,
            func.lower(XeroSandboxAccount.name) == name.lower())
        return bool(self.session.scalar(stmt))

    # -- feeds ----------------------------------------------------------------------------------
    def live_feed_by_token(self, client_id: str, token: str) -> XeroSandboxFeedConnection | None:
        stmt = select(XeroSandboxFeedConnection).where(XeroSandboxFeedConnection.client_id == client_id,
                                                       XeroSandboxFeedConnection.live_token == token)
        return self.session.scalars(stmt).first()

    def live_feed_for_account(self, account_id: uuid.UUID) -> XeroSandboxFeedConnection | None:
        stmt = select(XeroSandboxFeedConnection).where(XeroSandboxFeedConnection.live_account_id == account_id)
        return self.session.scalars(stmt).first()

    def feed(self, feed_id: uuid.UUID, *, for_update: bool = False) -> XeroSandboxFeedConnection | None:
        stmt = select(XeroSandboxFeedConnection).where(XeroSandboxFeedConnection.id == feed_id)
        return self.one(stmt, for_update=for_update)

    def live_feeds(self, client_id: str | None, organisation_id: uuid.UUID) -> list[XeroSandboxFeedConnection]:
        stmt = select(XeroSandboxFeedConnection).where(
            XeroSandboxFeedConnection.organisation_id == organisation_id,
            XeroSandboxFeedConnection.live_token.is_not(None))
        if client_id is not None:
            stmt = stmt.where(XeroSandboxFeedConnection.client_id == client_id)
        return list(self.session.scalars(stmt.order_by(XeroSandboxFeedConnection.created_at,
                                                       XeroSandboxFeedConnection.id)))

    # -- statements -----------------------------------------------------------------------------
    def statement(self, statement_id: uuid.UUID) -> XeroSandboxStatement | None:
        return self.session.get(XeroSandboxStatement, statement_id)

    def statements(self, client_id: str | None, organisation_id: uuid.UUID, *, offset: int = 0,
                   limit: int | None = None) -> list[XeroSandboxStatement]:
        stmt = select(XeroSandboxStatement).where(XeroSandboxStatement.organisation_id == organisation_id)
        if client_id is not None:
            stmt = stmt.where(XeroSandboxStatement.client_id == client_id)
        stmt = stmt.order_by(XeroSandboxStatement.received_at.desc(), XeroSandboxStatement.id).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def all_statements(self) -> list[XeroSandboxStatement]:
        stmt = select(XeroSandboxStatement).order_by(XeroSandboxStatement.received_at, XeroSandboxStatement.id)
        return list(self.session.scalars(stmt))

    def count_statements(self, client_id: str, organisation_id: uuid.UUID) -> int:
        stmt = select(func.count()).select_from(XeroSandboxStatement).where(
            XeroSandboxStatement.organisation_id == organisation_id, XeroSandboxStatement.client_id == client_id)
        return int(self.session.scalar(stmt) or 0)

    def due_statements(self, received_before: datetime, *, organisation_id: uuid.UUID | None = None,
                       statement_id: uuid.UUID | None = None) -> list[XeroSandboxStatement]:
        stmt = select(XeroSandboxStatement).where(XeroSandboxStatement.status == "PENDING",
                                                  XeroSandboxStatement.received_at <= received_before)
        if organisation_id is not None:
            stmt = stmt.where(XeroSandboxStatement.organisation_id == organisation_id)
        if statement_id is not None:
            stmt = stmt.where(XeroSandboxStatement.id == statement_id)
        stmt = stmt.order_by(XeroSandboxStatement.received_at, XeroSandboxStatement.id).limit(500)
        return list(self.session.scalars(stmt.with_for_update()))

    def same_statement(self, feed_id: uuid.UUID, fingerprint: str) -> bool:
        stmt = select(func.count()).select_from(XeroSandboxStatement).where(
            XeroSandboxStatement.feed_connection_id == feed_id, XeroSandboxStatement.fingerprint == fingerprint,
            XeroSandboxStatement.status != "REJECTED")
        return bool(self.session.scalar(stmt))

    def known_transaction_ids(self, feed_id: uuid.UUID, candidates: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(candidates), 500):
            chunk = candidates[start:start + 500]
            stmt = select(XeroSandboxStatementLine.transaction_id).where(
                XeroSandboxStatementLine.feed_connection_id == feed_id,
                XeroSandboxStatementLine.status != "rejected",
                XeroSandboxStatementLine.transaction_id.in_(chunk))
            found.update(t for t in self.session.scalars(stmt) if t is not None)
        return found

    def lines_of(self, statement_id: uuid.UUID) -> list[XeroSandboxStatementLine]:
        stmt = (select(XeroSandboxStatementLine).where(XeroSandboxStatementLine.statement_id == statement_id)
                .order_by(XeroSandboxStatementLine.position))
        return list(self.session.scalars(stmt))

    def set_lines_status(self, statement_id: uuid.UUID, status: str) -> None:
        self.session.execute(
            update(XeroSandboxStatementLine).where(XeroSandboxStatementLine.statement_id == statement_id)
            .values(status=status).execution_options(synchronize_session=False))

    def unreconciled(self, account_id: uuid.UUID, limit: int = 200) -> list[XeroSandboxStatementLine]:
        stmt = (
            select(XeroSandboxStatementLine)
            .where(XeroSandboxStatementLine.account_id == account_id,
                   XeroSandboxStatementLine.status == "unreconciled")
            .order_by(XeroSandboxStatementLine.posted_date.desc(), XeroSandboxStatementLine.statement_id,
                      XeroSandboxStatementLine.position.desc())
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def statements_of_feed(self, feed_id: uuid.UUID, limit: int = 20) -> list[XeroSandboxStatement]:
        stmt = (select(XeroSandboxStatement).where(XeroSandboxStatement.feed_connection_id == feed_id)
                .order_by(XeroSandboxStatement.received_at.desc(), XeroSandboxStatement.id).limit(limit))
        return list(self.session.scalars(stmt))

    # -- idempotency and the call log -----------------------------------------------------------
    def idempotency_key(self, client_id: str, tenant_id: str, key: str) -> XeroSandboxIdempotencyKey | None:
        stmt = select(XeroSandboxIdempotencyKey).where(
            XeroSandboxIdempotencyKey.client_id == client_id, XeroSandboxIdempotencyKey.tenant_id == tenant_id,
            XeroSandboxIdempotencyKey.key == key)
        return self.session.scalars(stmt).first()

    def calls(self, *, tenant_id: str | None = None, after_id: int = 0, limit: int = 10000) -> list[XeroSandboxCall]:
        stmt = select(XeroSandboxCall).where(XeroSandboxCall.id > after_id)
        if tenant_id is not None:
            stmt = stmt.where(XeroSandboxCall.tenant_id == tenant_id)
        return list(self.session.scalars(stmt.order_by(XeroSandboxCall.id).limit(limit)))
