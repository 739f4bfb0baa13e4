"""OFX 1.x (SGML) and 2.x (XML) statements, and the QFX/QBO files that Quicken and QuickBooks use.

Read with ``ofxtools``: its header parser and tag reader handle both syntaxes and the charset
declarations, and its models check every field against the OFX spec (amount syntax, date syntax,
required aggregates). Two things it does not give are added here: the line of a fault (its errors
name an element or a character offset, which are turned into a line number) and the bank's own
local dates (it converts ``DTPOSTED`` to UTC, which can move a transaction to another day; the
date and time are read from the raw tag text instead, with the offset ignored as Codat does).

Intuit's private tags (``INTU.BID`` ...) are skipped. Every STMTRS (bank) and CCSTMTRS (card)
statement in the file is read; the account is its ACCTID. OFX gives one balance, LEDGERBAL, so the
running balances are computed back from it.
"""

from __future__ import annotations

import io
import re
import warnings
import xml.etree.ElementTree as ET
import xml.parsers.expat
from datetime import date, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bankfeeds.publish.model import Balance, Entry, MalformedFile, ParsedFile, Statement
from bankfeeds.publish.parsers.common import squash

TRNTYPES = {
    "CREDIT": "Credit", "DEBIT": "Debit", "INT": "Int", "DIV": "Div", "FEE": "Fee", "SRVCHG": "SerChg",
    "DEP": "Dep", "ATM": "Atm", "POS": "Pos", "XFER": "Xfer", "CHECK": "Check", "PAYMENT": "Payment",
    "CASH": "Cash", "DIRECTDEP": "DirectDep", "DIRECTDEBIT": "DirectDebit", "REPEATPMT": "RepeatPmt",
    "HOLD": "Other", "OTHER": "Other",
}
_OFX_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?")
_POSITION = re.compile(r"position=\[(\d+):")


class _Located:
    """Line numbers of tags in the raw file, by tag and order of appearance."""

    def __init__(self, raw: bytes, message: str) -> None:
        self.message = message
        # Where the body starts in the file: the header's lines come before it.
        decoded = raw.decode("latin-1")
        body = message.lstrip()
        start = decoded.find(body[:40]) if body else -1
        self.before = decoded.count("\n", 0, start) if start >= 0 else 0
        self.lead = len(message) - len(body)
        self._cache: dict[str, list[int]] = {}

    def line_at(self, offset: int) -> int:
        return self.before + self.message.count("\n", self.lead, max(offset, self.lead)) + 1

    def lines(self, tag: str) -> list[int]:
        if tag not in self._cache:
            pattern = re.compile(rf"<{re.escape(tag)}>", re.IGNORECASE)
            self._cache[tag] = [self.line_at(m.start()) for m in pattern.finditer(self.message)]
        return self._cache[tag]

    def line_after(self, tag: str, line: int | None) -> int | None:
        """The first line at or after ``line`` holding ``tag``."""
        if line is None:
            return None
        return next((n for n in self.lines(tag) if n >= line), line)

    def line(self, tag: str, index: int) -> int | None:
        found = self.lines(tag)
        return found[index] if index < len(found) else None


def _no_doctype(*args: Any) -> None:
    raise xml.parsers.expat.ExpatError("a DOCTYPE is not allowed in OFX")


def _spec_error(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, InvalidOperation):
        return "a decimal amount"
    return text


def _convert(elem: ET.Element) -> Any:
    from ofxtools.models.base import Aggregate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Aggregate.from_etree(elem)


def _child_text(elem: ET.Element, path: str) -> str | None:
    found = elem.find(path)
    return found.text.strip() if found is not None and found.text else None


def _local_date(text: str) -> tuple[date, time | None]:
    m = _OFX_DATE.match(text)
    if not m:
        raise ValueError(text)
    day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    at = None
    if m.group(4):
        at = time(int(m.group(4)), int(m.group(5)), int(m.group(6) or 0))
        if at == time(0):
            at = None
    return day, at


def _entry(path: str, where: _Located, index: int, elem: ET.Element) -> Entry:
    line = where.line("STMTTRN", index)
    try:
        txn = _convert(elem)
    except InvalidOperation:
        raise MalformedFile(path, "TRNAMT as a decimal amount like -12.50", line=where.line_after("TRNAMT", line),
                            element="STMTTRN/TRNAMT", found=_child_text(elem, "TRNAMT")) from None
    except Exception as exc:  # ofxtools raises ValueError subclasses, decimal and key errors alike
        m = re.search(r"STMTTRN\.([a-z0-9.]+)", str(exc))
        child = m.group(1).upper() if m else None
        raise MalformedFile(path, "a transaction conforming to the OFX spec",
                            line=where.line_after(child, line) if child else line,
                            element=f"STMTTRN/{child}" if child else "STMTTRN", found=_spec_error(exc)) from None
    raw_date = _child_text(elem, "DTPOSTED") or ""
    try:
        booked, at = _local_date(raw_date)
    except ValueError:
        raise MalformedFile(path, "DTPOSTED as YYYYMMDD[HHMMSS]", line=line, element="STMTTRN/DTPOSTED",
                            found=raw_date) from None
    amount = Decimal(txn.trnamt)
    name = squash(getattr(txn, "name", None) or (txn.payee.name if getattr(txn, "payee", None) else None))
    memo = squash(getattr(txn, "memo", None))
    description = " - ".join(p for p in (name, memo) if p) or ("Credit" if amount >= 0 else "Debit")
    reference = getattr(txn, "checknum", None) or getattr(txn, "refnum", None)
    return Entry(booked=booked, at=at, amount=amount, description=description, line=line,
                 counterparty=name or None, reference=reference, bank_id=txn.fitid,
                 kind=TRNTYPES.get(str(txn.trntype), "Other"))


def parse(path: str | Path, raw: bytes | None = None) -> ParsedFile:
    from ofxtools.Parser import OFXTree, ParseError

    name = str(path)
    data = raw if raw is not None else Path(path).read_bytes()
    from ofxtools.header import parse_header

    try:
        header, body = parse_header(io.BytesIO(data))
    except Exception as exc:  # OFXHeaderError, or a body that cannot be decoded
        raise MalformedFile(name, "an OFX header (OFXHEADER:100 ... or <?OFX OFXHEADER=\"200\" ...?>)", line=1,
                            found=str(exc)[:120]) from None
    where = _Located(data, body)
    if str(getattr(header, "ofxheader", "")) == "200":
        # OFX 2.x is XML: expat names the line of any tag out of place, which ofxtools' reader does not.
        checker = xml.parsers.expat.ParserCreate()
        checker.StartDoctypeDeclHandler = _no_doctype
        try:
            checker.Parse(data, True)
        except xml.parsers.expat.ExpatError as exc:
            raise MalformedFile(name, "well-formed OFX tags (OFX 2.x is XML)", line=exc.lineno,
                                found=xml.parsers.expat.ErrorString(exc.code)) from None
    tree = OFXTree()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree.parse(io.BytesIO(data))
    except ParseError as exc:
        m = _POSITION.search(str(exc))
        raise MalformedFile(name, "well-formed OFX tags", line=where.line_at(int(m.group(1))) if m else None,
                            found=str(exc).split(" - position")[0]) from None
    except Exception as exc:  # ofxtools' tree builder: an end tag with nothing open, and the like
        raise MalformedFile(name, "well-formed OFX tags (every closing tag matching an open one)",
                            found=f"{type(exc).__name__}: {exc}") from None
    where = _Located(data, body)
    root = tree.getroot()
    if root is None:  # pragma: no cover - ofxtools raises before this
        raise MalformedFile(name, "an <OFX> element", line=1)
    statements: list[Statement] = []
    txn_index = 0
    counters = {"STMTRS": 0, "CCSTMTRS": 0}
    for elem in root.iter():
        if elem.tag not in counters:
            continue
        line = where.line(elem.tag, counters[elem.tag])
        counters[elem.tag] += 1
        entries: list[Entry] = []
        for txn_elem in elem.iter("STMTTRN"):
            entries.append(_entry(name, where, txn_index, txn_elem))
            txn_index += 1
        try:
            stmt = _convert(elem)
        except Exception as exc:
            raise MalformedFile(name, "a statement conforming to the OFX spec", line=line, element=elem.tag,
                                found=_spec_error(exc)) from None
        acct = stmt.account
        account = str(acct.acctid)
        ledger = stmt.ledgerbal
        raw_asof = _child_text(elem, "LEDGERBAL/DTASOF") or ""
        try:
            asof = _local_date(raw_asof)[0]
        except ValueError:  # pragma: no cover - ofxtools already checked the syntax
            asof = None
        closing = Balance(Decimal(ledger.balamt), asof, where.line("LEDGERBAL", len(statements)))
        statements.append(Statement(file=name, format="ofx", account=account, currency=str(stmt.curdef),
                                    line=line, closing=closing, entries=entries))
    try:
        _convert(root)
    except Exception as exc:
        raise MalformedFile(name, "an OFX document conforming to the spec", element="OFX",
                            found=_spec_error(exc)) from None
    if not statements:
        raise MalformedFile(name, "at least one bank (STMTRS) or card (CCSTMTRS) statement", element="OFX")
    return ParsedFile(name, "ofx", statements)
