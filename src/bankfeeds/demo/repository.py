"""All SQL of the demo bank (its own ``demo_*`` tables only)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from bankfeeds.kit.repository import RepositoryBase
from bankfeeds.models import DemoAccount, DemoCustomer, DemoTransaction, DemoWebhookEndpoint, DemoWebhookMessage


class DemoRepository(RepositoryBase):
    def customer(self, name: str, *, for_update: bool = False) -> DemoCustomer | None:
        return self.one(select(DemoCustomer).where(DemoCustomer.name == name), for_update=for_update)

    def accounts(self, customer_id: uuid.UUID) -> list[DemoAccount]:
        stmt = select(DemoAccount).where(DemoAccount.customer_id == customer_id).order_by(DemoAccount.created_at,
                                                                                          DemoAccount.name)
        return list(self.session.scalars(stmt))

    def account_by_source_id(self, customer_id: uuid.UUID, source_account_id: str) -> DemoAccount | None:
        stmt = select(DemoAccount).where(DemoAccount.customer_id == customer_id,
                                         DemoAccount.source_account_id == source_account_id)
        return self.session.scalars(stmt).first()

    def last_seq(self, account_id: uuid.UUID) -> int:
        stmt = select(func.max(DemoTransaction.seq)).where(DemoTransaction.account_id == account_id)
        return int(self.session.scalar(stmt) or 0)

    def recent(self, account_id: uuid.UUID, limit: int = 25) -> list[DemoTransaction]:
        stmt = (select(DemoTransaction).where(DemoTransaction.account_id == account_id)
                .order_by(DemoTransaction.seq.desc()).limit(limit))
        return list(self.session.scalars(stmt))

    def unpublished(self, account_id: uuid.UUID) -> list[DemoTransaction]:
        stmt = (select(DemoTransaction)
                .where(DemoTransaction.account_id == account_id, DemoTransaction.published_at.is_(None))
                .order_by(DemoTransaction.booked_on, DemoTransaction.seq))
        return list(self.session.scalars(stmt))

    def newest_published_day(self, account_id: uuid.UUID) -> Any:
        stmt = select(func.max(DemoTransaction.booked_on)).where(
            DemoTransaction.account_id == account_id, DemoTransaction.published_at.is_not(None))
        return self.session.scalar(stmt)

    def transactions_by_id(self, ids: list[uuid.UUID]) -> list[DemoTransaction]:
        if not ids:
            return []
        return list(self.session.scalars(select(DemoTransaction).where(DemoTransaction.id.in_(ids))))

    def unpublished_count(self, account_id: uuid.UUID) -> int:
        stmt = select(func.count()).select_from(DemoTransaction).where(
            DemoTransaction.account_id == account_id, DemoTransaction.published_at.is_(None))
        return int(self.session.scalar(stmt) or 0)

    # webhooks
    def endpoint(self, url: str) -> DemoWebhookEndpoint | None:
        return self.session.scalars(select(DemoWebhookEndpoint).where(DemoWebhookEndpoint.url == url)).first()

    def message_seen(self, message_id: str) -> bool:
        stmt = select(func.count()).select_from(DemoWebhookMessage).where(
            DemoWebhookMessage.message_id == message_id)
        return bool(self.session.scalar(stmt))

    def messages(self, limit: int = 12) -> list[DemoWebhookMessage]:
        stmt = select(DemoWebhookMessage).order_by(DemoWebhookMessage.received_at.desc(),
                                                   DemoWebhookMessage.id).limit(limit)
        return list(self.session.scalars(stmt))
