from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bankfeeds.kit.db import Base
from bankfeeds.kit.types import ExactDecimal


class XeroSandboxStatementLine(Base):
    """A statement line; once its statement is DELIVERED it waits to be reconciled in the account."""

    __tablename__ = "xero_sandbox_statement_lines"
    __table_args__ = (Index("ix_xero_sandbox_statement_lines_feed_txn", "feed_connection_id", "transaction_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    statement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("xero_sandbox_statements.id", ondelete="CASCADE"), index=True
    )
    feed_connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("xero_sandbox_accounts.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    posted_date: Mapped[date] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    credit_debit: Mapped[str] = mapped_column(String(6))
    transaction_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    payee_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    cheque_number: Mapped[str | None] = mapped_column(String(20), nullable=True)
    transaction_type: Mapped[str | None] = mapped_column(String(30), nullable=True)
    # received (statement pending) | unreconciled (delivered) | rejected
    status: Mapped[str] = mapped_column(String(12))
