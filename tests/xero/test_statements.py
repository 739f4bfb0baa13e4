"""A push as Xero's Statement: balances chained from the push's own transactions, exact money."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from bankfeeds.platforms.gbol.statements import Line, build


def line(n: int, amount: str, balance: str, **kw: str) -> Line:
    return Line(transaction_id=f"t{n}", date=datetime(2026, 11, n, 9, 30), description=kw.get("description"),
                counterparty=kw.get("counterparty"), reference=kw.get("reference"), amount=Decimal(amount),
                balance=Decimal(balance), transaction_type=kw.get("transaction_type"))


def test_balances_chain_from_the_first_and_last_transaction() -> None:
    st = build("feed-1", [line(1, "50.10", "150.10"), line(2, "-200", "-49.90"), line(3, "0.0001", "-49.8999")])
    assert st["feedConnectionId"] == "feed-1"
    assert (st["startDate"], st["endDate"]) == ("2026-11-01", "2026-11-03")
    assert st["startBalance"] == {"amount": Decimal("100.0000"), "creditDebitIndicator": "CREDIT"}
    assert st["endBalance"] == {"amount": Decimal("49.8999"), "creditDebitIndicator": "DEBIT"}
    signed = [ln["amount"] * (1 if ln["creditDebitIndicator"] == "CREDIT" else -1) for ln in st["statementLines"]]
    start = st["startBalance"]["amount"]
    end = -st["endBalance"]["amount"]
    assert start + sum(signed) == end  # Xero's invalid-end-balance rule holds exactly


def test_lines_carry_ids_payee_reference_type_and_unsigned_amounts() -> None:
    st = build("f", [line(4, "-12.5", "87.5", description="Card  ", counterparty="Coffee Shop", reference="R1",
                          transaction_type="Pos")])
    (only,) = st["statementLines"]
    assert only == {"postedDate": "2026-11-04", "amount": Decimal("12.5000"), "creditDebitIndicator": "DEBIT",
                    "transactionId": "t4", "description": "Card  ", "payeeName": "Coffee Shop", "reference": "R1",
                    "transactionType": "Pos"}


def test_blank_text_is_left_out_and_long_text_is_cut_to_xeros_lengths() -> None:
    st = build("f", [line(5, "1", "1", description="  ", counterparty="p" * 300, reference="r" * 256)])
    (only,) = st["statementLines"]
    assert "description" not in only
    assert len(only["payeeName"]) == 255 and len(only["reference"]) == 255


def test_an_empty_push_has_no_statement() -> None:
    with pytest.raises(ValueError):
        build("f", [])
