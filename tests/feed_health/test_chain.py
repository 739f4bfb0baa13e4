"""The balance chain's first break, on Links and on plain (id, amount, balance) rows alike."""

from __future__ import annotations

from decimal import Decimal as D

from bankfeeds.feed_health.chain import DUPLICATE, GAP, REORDER, Link, first_break


def test_an_intact_chain_has_no_break() -> None:
    rows = [("a", D("10"), D("110")), ("b", D("-5.50"), D("104.50")), ("c", D("1"), None), ("d", D("1"), D("7"))]
    assert first_break(rows) is None
    assert first_break(rows, Link("z", D("0"), D("100"))) is None
    assert first_break([]) is None and first_break([], ("z", D("1"), D("1"))) is None


def test_the_first_break_is_classified() -> None:
    gap = first_break([("a", D("10"), D("110")), ("b", D("5"), D("120")), ("c", D("1"), D("500"))])
    assert gap is not None and (gap.kind, gap.previous_transaction_id, gap.transaction_id) == (GAP, "a", "b")
    assert (gap.expected_balance, gap.balance, gap.difference) == (D("115"), D("120"), D("5"))

    duplicate = first_break([("b", D("5"), D("115"))], previous=("a", D("5"), D("115")))
    assert duplicate is not None and (duplicate.kind, duplicate.transaction_id) == (DUPLICATE, "b")

    # b and c swapped: a=100, c(+1)=101, b(+10)=111.
    swapped = [Link("b", D("10"), D("111")), Link("c", D("1"), D("101"))]
    reorder = first_break(swapped, previous=Link("a", D("0"), D("100")))
    assert reorder is not None and (reorder.kind, reorder.previous_transaction_id, reorder.transaction_id) == (
        REORDER, "a", "b")
    # The same at the end of the rows, with nothing after it to swap with, is a gap.
    last = first_break(swapped[:1], previous=Link("a", D("0"), D("100")))
    assert last is not None and last.kind == GAP
