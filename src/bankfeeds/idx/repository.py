"""All SQL of the IDX API.

Transactions are read through ``ix_bank_transactions_account_modified``
(source_account_id, modified_at, seq): the window is a range on that index and the order is the
index order, so a page and its count cost what the window holds, not the account's history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, delete, func, select

from bankfeeds.kit.repository import Repository
from bankfeeds.models import BankTransaction, Company, Connection, FeedPull, SourceAccount

TRANSACTION_COLUMNS = (
    BankTransaction.transaction_id,
    BankTransaction.date,
    BankTransaction.description,
    BankTransaction.counterparty,
    BankTransaction.reference,
    BankTransaction.amount,
    BankTransaction.transaction_type,
    BankTransaction.modified_at,
)


class IdxRepository(Repository[SourceAccount]):
    model = SourceAccount

    def connection(self, connection_id: uuid.UUID, *, for_update: bool = False) -> Connection | None:
        return self.one(select(Connection).where(Connection.id == connection_id), for_update=for_update, refresh=True)

    def company(self, company_id: uuid.UUID) -> Company | None:
        return self.session.get(Company, company_id)

    def accounts(self, connection_id: uuid.UUID, offset: int, limit: int) -> tuple[list[SourceAccount], int]:
        where = SourceAccount.connection_id == connection_id
        total = self.session.scalar(select(func.count()).select_from(SourceAccount).where(where)) or 0
        rows = self.session.scalars(
            select(SourceAccount).where(where)
            .order_by(SourceAccount.created_at, SourceAccount.account_id).offset(offset).limit(limit)
        )
        return list(rows), int(total)

    def account(self, connection_id: uuid.UUID, account_id: str, *, for_update: bool = False) -> SourceAccount | None:
        stmt = select(SourceAccount).where(
            SourceAccount.connection_id == connection_id, SourceAccount.account_id == account_id
        )
        return self.one(stmt, for_update=for_update, refresh=True)

    @staticmethod
    def _window(source_account_id: uuid.UUID, start: datetime | None, end: datetime | None) -> list[
        ColumnElement[bool]
    ]:
        where: list[ColumnElement[bool]] = [BankTransaction.source_account_id == source_account_id]
        if start is not None:
            where.append(BankTransaction.modified_at >= start)
        if end is not None:
            where.append(BankTransaction.modified_at < end)
        return where

    def transactions_statement(
        self, source_account_id: uuid.UUID, start: datetime | None, end: datetime | None, offset: int, limit: int
    ) -> Select[*tuple[Any, ...]]:
        # Columns, not entities: a page is read-only and up to 2000 rows long.
        return (
            select(*TRANSACTION_COLUMNS)
            .where(*self._window(source_account_id, start, end))
            .order_by(BankTransaction.modified_at, BankTransaction.seq)
            .offset(offset)
            .limit(limit)
        )

    def count_statement(
        self, source_account_id: uuid.UUID, start: datetime | None, end: datetime | None
    ) -> Select[Any]:
        return select(func.count()).select_from(BankTransaction).where(
            *self._window(source_account_id, start, end)
        )

    def transactions(
        self, source_account_id: uuid.UUID, start: datetime | None, end: datetime | None, offset: int, limit: int
    ) -> tuple[list[Row[Any]], int]:
        total = self.session.scalar(self.count_statement(source_account_id, start, end)) or 0
        rows: list[Row[Any]] = []
        if offset < total:
            rows = list(self.session.execute(
                self.transactions_statement(source_account_id, start, end, offset, limit)
            ))
        return rows, int(total)

    def purge_pulls_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the oldest pulls made before ``before``."""
        oldest = select(FeedPull.seq).where(FeedPull.pulled_at < before).order_by(FeedPull.pulled_at).limit(limit)
        seqs = list(self.session.scalars(oldest))
        if seqs:
            self.session.execute(delete(FeedPull).where(FeedPull.seq.in_(seqs)))
        return len(seqs)
