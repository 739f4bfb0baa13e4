"""platforms.write_rules on their own: no database, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from bankfeeds.platforms import write_rules
from bankfeeds.platforms.gbol import XERO
from bankfeeds.platforms.hcws import QUICKBOOKS

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@dataclass
class T:
    id: str | None = "t"
    date: datetime | None = datetime(2026, 11, 23, 10)
    description: str | None = "d"
    amount: Decimal | None = Decimal("1")
    balance: Decimal | None = Decimal("1")
    transaction_type: str | None = None


def test_a_valid_batch_passes() -> None:
    verdict = write_rules.check_batch(QUICKBOOKS, [T("a"), T("b")], now=NOW)
    assert not verdict.failed and verdict.warnings == [] and verdict.new == [0, 1]


def test_latest_local_now_is_utc_plus_14() -> None:
    assert write_rules.latest_local_now(NOW) == datetime(2026, 11, 25, 5, 0)


def test_repeats_within_a_batch_keep_the_first() -> None:
    verdict = write_rules.check_batch(QUICKBOOKS, [T("a"), T("b"), T("a")], now=NOW)
    assert verdict.new == [0, 1]
    assert [(w.item_id, w.validator_name) for w in verdict.warnings] == [("a", "Duplicate")]


def test_items_without_an_id_are_named_by_position() -> None:
    verdict = write_rules.check_batch(XERO, [T("a"), T(None), T("  ")], now=NOW)
    assert [e.item_id for e in verdict.errors] == ["transactions[1]", "transactions[2]"]
    assert verdict.new == [0]


def test_required_fields_are_missing_when_absent_or_blank_not_when_zero() -> None:
    txns = [T("zero", amount=Decimal("0"), balance=Decimal("0.00")), T("no-amount", amount=None),
            T("blank", description="  \t"), T("empty", description=""), T("no-balance", balance=None),
            T("no-date", date=None), T(" ", description=None)]
    verdict = write_rules.check_batch(QUICKBOOKS, txns, now=NOW)
    assert [(e.item_id, e.message) for e in verdict.errors] == [
        ("no-amount", "'amount' is required by QuickBooks Online Bank Feeds."),
        ("blank", "'description' is required by QuickBooks Online Bank Feeds."),
        ("empty", "'description' is required by QuickBooks Online Bank Feeds."),
        ("no-balance", "'balance' is required by QuickBooks Online Bank Feeds."),
        ("no-date", "'date' is required by QuickBooks Online Bank Feeds."),
        ("transactions[6]", "'id' is required by QuickBooks Online Bank Feeds."),
        ("transactions[6]", "'description' is required by QuickBooks Online Bank Feeds."),
    ]


def test_sign_rules_cover_the_unambiguous_types_only() -> None:
    cases = {"Credit": -1, "Dep": -1, "DirectDep": -1, "Int": -1, "Div": -1,
             "Debit": 1, "Fee": 1, "SerChg": 1, "DirectDebit": 1, "RepeatPmt": 1}
    txns = [T(f"{t}", amount=Decimal(sign), transaction_type=t) for t, sign in cases.items()]
    txns += [T(f"ok-{t}", amount=Decimal(-1), transaction_type=t) for t in ("Xfer", "Atm", "Pos", "Other", "Unknown")]
    verdict = write_rules.check_batch(XERO, txns, now=NOW)
    assert not verdict.failed
    assert [w.item_id for w in verdict.warnings] == list(cases)


def test_older_than_newest_and_its_messages() -> None:
    txns = [T("a", date=datetime(2026, 11, 1)), T("b", date=datetime(2026, 11, 5)), T("c", date=None)]
    assert write_rules.older_than_newest(txns, [0, 1, 2], None) == []
    assert write_rules.older_than_newest(txns, [0, 1, 2], datetime(2026, 11, 5)) == [0]
    [item] = write_rules.too_old(txns, [0], datetime(2026, 11, 5))
    assert item.item_id == "a" and item.validator_name == "NotOlderThanNewest" and "2026-11-05" in item.message
    assert [w.item_id for w in write_rules.already_written(txns, [1])] == ["b"]


def test_field_rules_follow_the_platform() -> None:
    qbo = {r.name: r for r in write_rules.field_rules(QUICKBOOKS)}
    assert qbo["transactionType"].options == ("Credit", "Debit", "Unknown")
    assert qbo["description"].required and not qbo["counterparty"].required
    xero = {r.name: r for r in write_rules.field_rules(XERO)}
    assert xero["transactionType"].options == write_rules.TRANSACTION_TYPES
    assert not xero["description"].required
