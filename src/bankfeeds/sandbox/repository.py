"""All SQL of the sandbox (its own ``sandbox_*`` tables only)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, or_, select

from bankfeeds.kit.repository import RepositoryBase
from bankfeeds.models import (
    SandboxAccount,
    SandboxBankLogin,
    SandboxBankTransaction,
    SandboxCompany,
    SandboxFeed,
)

FEED_ACCOUNT_TYPES = ("Bank", "Credit Card")


class SandboxRepository(RepositoryBase):
    # companies and chart of accounts
    def companies(self) -> list[SandboxCompany]:
        return list(self.session.scalars(select(SandboxCompany).order_by(SandboxCompany.name)))

    def company(self, company_id: uuid.UUID) -> SandboxCompany | None:
        return self.session.get(SandboxCompany, company_id)

    def company_by_name(self, name: str) -> SandboxCompany | None:
        return self.session.scalars(select(SandboxCompany).where(SandboxCompany.name == name)).first()

    def accounts(self, company_id: uuid.UUID) -> list[SandboxAccount]:
        stmt = select(SandboxAccount).where(SandboxAccount.company_id == company_id).order_by(SandboxAccount.name)
        return list(self.session.scalars(stmt))

    def account(self, company_id: uuid.UUID, account_id: uuid.UUID) -> SandboxAccount | None:
        stmt = select(SandboxAccount).where(SandboxAccount.id == account_id,
                                            SandboxAccount.company_id == company_id)
        return self.session.scalars(stmt).one_or_none()

    def account_by_id(self, account_id: uuid.UUID) -> SandboxAccount | None:
        return self.session.get(SandboxAccount, account_id)

    def account_name_taken(self, company_id: uuid.UUID, name: str) -> bool:
        stmt = select(func.count()).select_from(SandboxAccount).where(
            SandboxAccount.company_id == company_id, func.lower(SandboxAccount.name) == name.lower())
        return bool(self.session.scalar(stmt))

    def eligible_accounts(self, company_id: uuid.UUID) -> list[SandboxAccount]:
        """Bank and Credit Card accounts with no connected feed."""
        stmt = (
            select(SandboxAccount)
            .outerjoin(SandboxFeed, SandboxFeed.active_account_id == SandboxAccount.id)
            .where(SandboxAccount.company_id == company_id, SandboxAccount.account_type.in_(FEED_ACCOUNT_TYPES),
                   SandboxFeed.id.is_(None))
            .order_by(SandboxAccount.account_type, SandboxAccount.name)
        )
        return list(self.session.scalars(stmt))

    # logins
    def login(self, company_id: uuid.UUID, login_id: uuid.UUID) -> SandboxBankLogin | None:
        stmt = select(SandboxBankLogin).where(SandboxBankLogin.id == login_id,
                                              SandboxBankLogin.company_id == company_id)
        return self.session.scalars(stmt).one_or_none()

    def login_by_id(self, login_id: uuid.UUID) -> SandboxBankLogin | None:
        return self.session.get(SandboxBankLogin, login_id)

    # feeds
    def feeds(self, company_id: uuid.UUID) -> list[SandboxFeed]:
        stmt = (select(SandboxFeed).where(SandboxFeed.company_id == company_id)
                .order_by(SandboxFeed.status, SandboxFeed.created_at, SandboxFeed.id))
        return list(self.session.scalars(stmt))

    def feed(self, company_id: uuid.UUID, feed_id: uuid.UUID, *, for_update: bool = False) -> SandboxFeed | None:
        stmt = select(SandboxFeed).where(SandboxFeed.id == feed_id, SandboxFeed.company_id == company_id)
        return self.one(stmt, for_update=for_update)

    def feed_by_id(self, feed_id: uuid.UUID, *, for_update: bool = False) -> SandboxFeed | None:
        return self.one(select(SandboxFeed).where(SandboxFeed.id == feed_id), for_update=for_update)

    def connected_feed_for_source(
        self, company_id: uuid.UUID, institution_slug: str, source_account_id: str
    ) -> SandboxFeed | None:
        stmt = (
            select(SandboxFeed).join(SandboxBankLogin, SandboxBankLogin.id == SandboxFeed.login_id)
            .where(SandboxFeed.company_id == company_id, SandboxFeed.status == "connected",
                   SandboxBankLogin.institution_slug == institution_slug,
                   SandboxFeed.source_account_id == source_account_id)
        )
        return self.session.scalars(stmt).first()

    def connected_feed_ids(self, company_id: uuid.UUID) -> list[uuid.UUID]:
        stmt = select(SandboxFeed.id).where(SandboxFeed.company_id == company_id, SandboxFeed.status == "connected")
        return list(self.session.scalars(stmt))

    def claim_due_feeds(self, due_before: datetime, now: datetime, limit: int) -> list[uuid.UUID]:
        """Connected feeds not tried since ``due_before``, marked as tried now (skipping locked rows)."""
        stmt = (
            select(SandboxFeed)
            .where(SandboxFeed.status == "connected",
                   or_(SandboxFeed.last_attempt_at.is_(None), SandboxFeed.last_attempt_at <= due_before))
            .order_by(SandboxFeed.last_attempt_at.is_(None).desc(), SandboxFeed.last_attempt_at, SandboxFeed.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        feeds = list(self.session.scalars(stmt))
        for feed in feeds:
            feed.last_attempt_at = now
        self.session.flush()
        return [f.id for f in feeds]

    # transactions
    def add_transactions(self, rows: list[SandboxBankTransaction]) -> None:
        self.session.add_all(rows)
        self.session.flush()

    def known_transaction_ids(self, account_id: uuid.UUID, candidates: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(candidates), 500):
            chunk = candidates[start:start + 500]
            stmt = select(SandboxBankTransaction.transaction_id).where(
                SandboxBankTransaction.account_id == account_id,
                SandboxBankTransaction.transaction_id.in_(chunk))
            found.update(self.session.scalars(stmt))
        return found

    def for_review(self, account_id: uuid.UUID, limit: int = 500) -> list[SandboxBankTransaction]:
        stmt = (
            select(SandboxBankTransaction)
            .where(SandboxBankTransaction.account_id == account_id, SandboxBankTransaction.status == "for_review")
            .order_by(SandboxBankTransaction.transaction_date.desc(), SandboxBankTransaction.downloaded_at.desc(),
                      SandboxBankTransaction.transaction_id)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def for_review_counts(self, company_id: uuid.UUID) -> dict[uuid.UUID, int]:
        stmt = (
            select(SandboxBankTransaction.account_id, func.count())
            .join(SandboxAccount, SandboxAccount.id == SandboxBankTransaction.account_id)
            .where(SandboxAccount.company_id == company_id, SandboxBankTransaction.status == "for_review")
            .group_by(SandboxBankTransaction.account_id)
        )
        return {row[0]: int(row[1]) for row in self.session.execute(stmt)}
