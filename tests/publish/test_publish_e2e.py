"""``bankfeeds publish`` against a running hub (uvicorn on a real port), read back through the API."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.app import LiveServer
from tests.fixtures.factories import make_linked_feed
from tests.publish.helpers import idx_transactions, idx_view, publish, sample, source_accounts, stored, triples

D = Decimal


def test_camt053_two_accounts_each_mapped(live_server: LiveServer, api_key: str, database: Database,
                                           clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (eur, gbp) = make_linked_feed(database, clock, accounts=("acc-eur", "acc-gbp"))
    run = publish(live_server.url, api_key, company, connection, [sample("camt053_two_accounts.xml")], tmp_path,
                  "--map", "DE89370400440532013000=acc-eur", "--map", "GB33BUKB20201555555555=acc-gbp", account=None)
    assert run.exit_code == 0, run.output
    assert run.data["totals"] == {"read": 7, "skipped": 0, "published": 7, "failed": 0, "pending": 0, "notSent": 0}
    assert run.data["files"][0]["notBooked"] == 1
    assert triples(stored(database, eur)) == [
        ("2026-11-02T00:00:00", D("-12.50"), D("987.50"), "Coffee & cake"),
        ("2026-11-02T00:00:00", D("-12.50"), D("975.00"), "Coffee & cake"),
        ("2026-11-03T09:15:00", D("2500.00"), D("3475.00"), "Invoice 2026-117"),
        ("2026-11-04T00:00:00", D("-1234.56"), D("2240.44"), "SEPA batch, 2 payments"),
        ("2026-11-04T00:00:00", D("-0.99"), D("2239.45"), "Bank fee"),
    ]
    pulled = idx_transactions(live_server.url, api_key, connection, "acc-eur")
    assert idx_view(pulled) == [
        ("2026-11-02", D("-12.50"), "Coffee & cake"), ("2026-11-02", D("-12.50"), "Coffee & cake"),
        ("2026-11-03", D("2500.00"), "Invoice 2026-117"), ("2026-11-04", D("-1234.56"), "SEPA batch, 2 payments"),
        ("2026-11-04", D("-0.99"), "Bank fee"),
    ]
    accounts = source_accounts(live_server.url, api_key, connection)
    assert accounts["acc-eur"]["balance"] == D("2239.45")
    assert accounts["acc-gbp"]["balance"] == D("400.00")
    assert triples(stored(database, gbp)) == [
        ("2026-11-02T00:00:00", D("45.10"), D("545.10"), "Refund"),
        ("2026-11-03T00:00:00", D("-145.10"), D("400.00"), "Rent November"),
    ]


@pytest.mark.parametrize(("name", "extra", "expected"), [
    ("camt052_report.xml", (), [
        ("2026-11-10T00:00:00", D("1234567890123456.78"), D("1234567890123456.78"), "Very large deposit"),
        ("2026-11-11T23:30:00", D("-0.01"), D("1234567890123456.77"), "One cent fee"),
    ]),
    ("mt940_two_days.sta", (), [
        ("2026-11-07T00:00:00", D("-25.00"), D("4975.00"), "Invoice 4711 car repair"),
        ("2026-11-07T00:00:00", D("1250.75"), D("6225.75"), "Rechnung 2026-0815 Beratung"),
        ("2026-11-08T00:00:00", D("-3.20"), D("6222.55"), "Bank charges November"),
        ("2026-11-09T00:00:00", D("-22.55"), D("6200.00"), "Phone subscription"),
        ("2026-11-09T00:00:00", D("-22.55"), D("6177.45"), "Phone subscription"),
    ]),
    ("ofx102_checking.ofx", (), [
        ("2026-11-12T00:00:00", D("-42.00"), D("1958.00"), "SHELL OIL 1234 - Fuel"),
        ("2026-11-12T00:00:00", D("1500.00"), D("3458.00"), "PAYROLL ACME"),
        # 23:00 at UTC-5 stays on the 13th (in UTC it would be the 14th).
        ("2026-11-13T23:00:00", D("-15.25"), D("3442.75"), "Check 1001"),
    ]),
    ("ofx220_creditcard.ofx", (), [
        ("2026-11-14T10:30:00", D("-89.99"), D("-289.99"), "AMAZON MKTPLACE - Order 123-456"),
        ("2026-11-15T00:00:00", D("89.99"), D("-200.00"), "AMAZON REFUND"),
    ]),
    ("quicken_savings.qfx", (), [
        ("2026-11-16T00:00:00", D("3.21"), D("10253.21"), "INTEREST PAID"),
        ("2026-11-17T00:00:00", D("-250.00"), D("10003.21"), "TRANSFER TO CHECKING - ref 88"),
    ]),
    ("quickbooks_checking.qbo", (), [
        ("2026-11-18T00:00:00", D("-7.45"), D("992.55"), "CORNER DELI"),
        ("2026-11-18T00:00:00", D("-60.00"), D("932.55"), "ATM WITHDRAWAL"),
    ]),
    ("bank_export_newest_first.csv", (), [
        ("2026-11-16T00:00:00", D("400.00"), D("400.00"), "Opening deposit"),
        ("2026-11-17T00:00:00", D("500.00"), D("900.00"), "Transfer from savings"),
        ("2026-11-18T00:00:00", D("-54.30"), D("845.70"), "Card payment, SUPERMARKET"),
    ]),
    ("debit_credit_semicolon.csv", ("--decimal-separator", ",", "--opening-balance", "1000.00"), [
        ("2026-11-19T00:00:00", D("-1200.00"), D("-200.00"), "Miete Dezember"),
        ("2026-11-20T00:00:00", D("3456.78"), D("3256.78"), "Gehalt"),
        ("2026-11-20T00:00:00", D("-4.90"), D("3251.88"), "Kontoführung"),
    ]),
])
def test_each_format_published_exactly(name: str, extra: tuple[str, ...], expected: list[tuple[str, Decimal, Decimal, str]],
                                       live_server: LiveServer, api_key: str, database: Database, clock: FrozenClock,
                                       tmp_path: Path) -> None:
    company, connection, (acc,) = make_linked_feed(database, clock)
    run = publish(live_server.url, api_key, company, connection, [sample(name)], tmp_path, *extra)
    assert run.exit_code == 0, run.output
    assert run.data["totals"]["published"] == len(expected)
    assert triples(stored(database, acc)) == expected
    pulled = idx_transactions(live_server.url, api_key, connection, "acc-1")
    assert sorted(idx_view(pulled)) == sorted(
        (d[:10], a, desc) for d, a, _, desc in expected)
    assert source_accounts(live_server.url, api_key, connection)["acc-1"]["balance"] == expected[-1][2]


def test_rerun_same_file_sends_nothing_again(live_server: LiveServer, api_key: str, database: Database,
                                              clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (acc,) = make_linked_feed(database, clock)
    args = (live_server.url, api_key, company, connection, [sample("camt053_two_accounts.xml")])
    first = publish(*args, tmp_path, "--file-account", "DE89370400440532013000")
    assert first.exit_code == 0 and first.data["totals"]["published"] == 5
    again = publish(*args, tmp_path, "--file-account", "DE89370400440532013000")
    assert again.exit_code == 0, again.output
    assert again.data["totals"] == {"read": 5, "skipped": 5, "published": 0, "failed": 0, "pending": 0, "notSent": 0}
    assert again.data["files"][0]["skipped"]["alreadySent"] == 5
    # Without the journal (another machine, a lost state dir) the hub's duplicate-id rule still holds.
    elsewhere = publish(*args, tmp_path / "other", "--file-account", "DE89370400440532013000")
    assert elsewhere.exit_code == 0, elsewhere.output
    assert elsewhere.data["totals"]["published"] == 0 and elsewhere.data["totals"]["skipped"] == 5
    assert len(stored(database, acc)) == 5


def test_overlapping_files_in_turn_and_together(live_server: LiveServer, api_key: str, database: Database,
                                                clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (one, two) = make_linked_feed(database, clock, accounts=("acc-1", "acc-2"))
    pick = ("--file-account", "DE89370400440532013000")
    files = [sample("camt053_two_accounts.xml"), sample("camt053_v08_overlap.xml")]
    expected = [
        ("2026-11-02T00:00:00", D("-12.50"), D("987.50"), "Coffee & cake"),
        ("2026-11-02T00:00:00", D("-12.50"), D("975.00"), "Coffee & cake"),
        ("2026-11-03T09:15:00", D("2500.00"), D("3475.00"), "Invoice 2026-117"),
        ("2026-11-04T00:00:00", D("-1234.56"), D("2240.44"), "SEPA batch, 2 payments"),
        ("2026-11-04T00:00:00", D("-0.99"), D("2239.45"), "Bank fee"),
        ("2026-11-05T00:00:00", D("10.00"), D("2249.45"), "Lunch share"),
        ("2026-11-06T00:00:00", D("-100.00"), D("2149.45"), "Electricity"),
    ]
    a = publish(live_server.url, api_key, company, connection, files[:1], tmp_path, *pick)
    b = publish(live_server.url, api_key, company, connection, files[1:], tmp_path, *pick)
    assert (a.exit_code, b.exit_code) == (0, 0), b.output
    assert b.data["totals"] == {"read": 4, "skipped": 2, "published": 2, "failed": 0, "pending": 0, "notSent": 0}
    assert triples(stored(database, one)) == expected
    together = publish(live_server.url, api_key, company, connection, files, tmp_path, *pick, account="acc-2")
    assert together.exit_code == 0, together.output
    assert together.data["totals"] == {"read": 9, "skipped": 2, "published": 7, "failed": 0, "pending": 0, "notSent": 0}
    assert together.data["files"][1]["skipped"]["duplicateInInput"] == 2
    assert triples(stored(database, two)) == expected


def test_older_than_the_account_is_skipped_and_counted(live_server: LiveServer, api_key: str, database: Database,
                                                       clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (acc,) = make_linked_feed(database, clock)
    pick = ("--file-account", "DE89370400440532013000")
    later = publish(live_server.url, api_key, company, connection, [sample("camt053_v08_overlap.xml")], tmp_path)
    assert later.exit_code == 0 and later.data["totals"]["published"] == 4
    earlier = publish(live_server.url, api_key, company, connection, [sample("camt053_two_accounts.xml")], tmp_path,
                      *pick)
    assert earlier.exit_code == 0, earlier.output
    skipped = earlier.data["files"][0]["skipped"]
    # The 4th holds the batch and the fee: sent already. The 2nd and 3rd are older than the 6th: never sent.
    assert skipped == {"total": 5, "duplicateInInput": 0, "alreadySent": 2, "olderThanAccount": 3}
    assert "older than what the account already holds" in earlier.data["notes"][0]
    assert earlier.data["totals"]["published"] == 0 and earlier.data["totals"]["failed"] == 0
    assert len(stored(database, acc)) == 4
