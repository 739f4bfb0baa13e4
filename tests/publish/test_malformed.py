"""Malformed files of every format: an error naming the file, the line and what was expected; nothing sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.publish.balances import settle
from bankfeeds.publish.model import BalanceMismatch, MalformedFile
from bankfeeds.publish.parsers import parse_file
from tests.fixtures.app import LiveServer
from tests.fixtures.factories import make_linked_feed
from tests.publish.helpers import SAMPLES, publish, sample, stored

# (sample, text to replace (first occurrence), replacement, text marking the line the error names
#  (None: the line of the replacement), what the message must say)
CASES = [
    ("camt053_two_accounts.xml", '<Amt Ccy="EUR">12.50</Amt>', '<Amt Ccy="EUR">12,50</Amt>', None,
     "expected an amount like 1234.56"),
    ("camt053_two_accounts.xml", "<Dt>2026-11-02</Dt>\n        </BookgDt>", "<Dt>2026-11-31</Dt>\n        </BookgDt>",
     None, "expected a date YYYY-MM-DD"),
    ("camt053_two_accounts.xml", "      </Ntry>\n", "", "    </Stmt>", "expected well-formed XML"),
    ("camt053_two_accounts.xml", "<CdtDbtInd>DBIT</CdtDbtInd>", "<CdtDbtInd>DEBIT</CdtDbtInd>", None,
     "expected <CdtDbtInd> CRDT or DBIT"),
    ("camt053_two_accounts.xml", '<Amt Ccy="EUR">2239.45</Amt>', '<Amt Ccy="EUR">2239.54</Amt>', None,
     "opening balance 1000.00"),
    ("camt052_report.xml", "<Sts>BOOK</Sts>", "", "<Ntry>", "expected <Sts>"),
    ("mt940_two_days.sta", ":61:2611071107D25,00", ":61:26113X1107D25,00", None, "expected a statement line"),
    ("mt940_two_days.sta", ":62F:C261108EUR6222,55", ":62F:C261108EUR6222,56", None, "opening balance 5000.00"),
    ("mt940_two_days.sta", ":62F:C261109EUR6177,45", ":62F:C261109EUR6177,4O", None, "expected a balance like"),
    ("mt940_two_days.sta", ":62F:C261109EUR6177,45\r\n", "", ":20:STMT261109", "expected a closing balance"),
    ("ofx102_checking.ofx", "<TRNAMT>-42.00", "<TRNAMT>-42,0O", None, "expected TRNAMT as a decimal amount"),
    ("ofx102_checking.ofx", "<DTPOSTED>20261112\r\n<TRNAMT>1500", "<DTPOSTED>20261312\r\n<TRNAMT>1500",
     None, "conforming to the OFX spec"),
    ("ofx102_checking.ofx", "OFXHEADER:100", "OFXHEADER:1OO", None, "expected an OFX header"),
    ("ofx220_creditcard.ofx", "<NAME>AMAZON REFUND</NAME>", "<NAME>AMAZON REFUND</NAMES>", None,
     "expected well-formed OFX tags"),
    ("quicken_savings.qfx", "<LEDGERBAL><BALAMT>10003.21<DTASOF>20261117</LEDGERBAL>", "", "<STMTRS>",
     "conforming to the OFX spec"),
    ("bank_export_newest_first.csv", "17/11/2026", "17/13/2026", None, "expected a date like the others"),
    ("bank_export_newest_first.csv", "500.00,900.00", "5OO.00,900.00", None, "expected an amount with a dot"),
    ("bank_export_newest_first.csv", "500.00,900.00", "500.00,901.00", None, "expected the running balance"),
    ("debit_credit_semicolon.csv", "20.11.2026;Gehalt;;3.456,78", "20.11.2026;Gehalt;1,00;3.456,78", None,
     "one of the debit and credit columns"),
]


def _broken(tmp_path: Path, name: str, old: str, new: str, marker: str | None) -> tuple[Path, int]:
    raw = (SAMPLES / name).read_bytes().decode("utf-8")
    assert old in raw, old
    text = raw.replace(old, new, 1)
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    if marker is None:
        return path, raw[:raw.index(old)].count("\n") + 1
    return path, text[:text.index(marker)].count("\n") + 1


@pytest.mark.parametrize(("name", "old", "new", "marker", "says"), CASES)
def test_error_names_file_line_and_expectation(name: str, old: str, new: str, marker: str | None, says: str,
                                               tmp_path: Path) -> None:
    path, line = _broken(tmp_path, name, old, new, marker)
    opts = None
    if name.startswith("debit_credit"):
        from decimal import Decimal

        from bankfeeds.publish.parsers import CsvOptions
        opts = CsvOptions(decimal=",", opening_balance=Decimal("0"))
    with pytest.raises(MalformedFile) as caught:
        for stmt in parse_file(path, csv_options=opts).statements:
            settle(stmt)
    error = caught.value
    assert error.file == str(path)
    text = error.describe()
    assert says in text, text
    assert text.startswith(str(path))
    if name.endswith(".csv") and "header" in says:
        return
    if "OFXHEADER" not in new:
        assert error.line == line, text


def test_unbalanced_statement_is_a_balance_mismatch(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "mt940_two_days.sta", ":62F:C261108EUR6222,55", ":62F:C261108EUR6222,56", None)
    stmt = parse_file(path).statements[0]
    with pytest.raises(BalanceMismatch) as caught:
        settle(stmt)
    assert caught.value.line == line == 14
    assert "that is 6222.55" in str(caught.value) and "found '6222.56'" in str(caught.value)


@pytest.mark.parametrize(("name", "old", "new", "marker", "says"),
                         [c for c in CASES if c[0] in ("camt053_two_accounts.xml", "mt940_two_days.sta",
                                                       "ofx102_checking.ofx", "bank_export_newest_first.csv")][::2])
def test_nothing_from_a_malformed_file_is_sent(name: str, old: str, new: str, marker: str | None, says: str,
                                               live_server: LiveServer, api_key: str, database: Database,
                                               clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (acc,) = make_linked_feed(database, clock)
    path, line = _broken(tmp_path, name, old, new, marker)
    pick = ("--file-account", "DE89370400440532013000") if name.startswith("camt") else ()
    run = publish(live_server.url, api_key, company, connection, [str(path)], tmp_path / "state", *pick)
    assert run.exit_code == 2, run.output
    error = run.data["files"][0]["error"]
    assert error["file"] == str(path) and error["line"] == line and says in error["message"]
    assert run.data["totals"]["published"] == 0
    assert stored(database, acc) == []


def test_a_bad_file_does_not_stop_the_good_ones(live_server: LiveServer, api_key: str, database: Database,
                                                clock: FrozenClock, tmp_path: Path) -> None:
    company, connection, (acc,) = make_linked_feed(database, clock)
    bad, _ = _broken(tmp_path, "ofx102_checking.ofx", "<TRNAMT>-42.00", "<TRNAMT>-42,0O", None)
    run = publish(live_server.url, api_key, company, connection, [str(bad), sample("quicken_savings.qfx")],
                  tmp_path / "state")
    assert run.exit_code == 2
    assert [f["status"] for f in run.data["files"]] == ["refused", "read"]
    assert run.data["files"][1]["published"] == 2
    assert [r.description for r in stored(database, acc)] == ["INTEREST PAID", "TRANSFER TO CHECKING - ref 88"]
