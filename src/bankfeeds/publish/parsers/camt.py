"""ISO 20022 camt.053 (bank to customer statement) and camt.052 (account report).

Read with the standard library's expat, streaming, so a file of any size is parsed in one pass with
the line of every element at hand. No DTD is accepted (a camt message never has one), which also
shuts out entity-expansion attacks. Versions .001.02 to .001.13 are read alike: the elements used
here kept their names, except the status (``<Sts>BOOK</Sts>`` before .08, ``<Sts><Cd>BOOK</Cd></Sts>``
after) and party names (``<Dbtr><Nm>`` before .08, ``<Dbtr><Pty><Nm>`` after), both handled.

One transaction per booked entry (``Ntry`` with status BOOK): the entry's amount is what moves the
balances, even when it batches several underlying transactions (``TxDtls``).
"""

from __future__ import annotations

import re
import xml.parsers.expat
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from bankfeeds.publish.model import Balance, Entry, MalformedFile, ParsedFile, Statement, paused_gc
from bankfeeds.publish.parsers.common import plain_decimal, sign_type, squash

NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
CONTAINERS = {"BkToCstmrStmt": ("Stmt", "camt.053"), "BkToCstmrAcctRpt": ("Rpt", "camt.052")}
OPENING = ("OPBD", "PRCD")
CLOSING = ("CLBD",)
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_CHUNK = 1 << 20

# (text, line, Ccy attribute)
Field = tuple[str, int, str | None]


class _Scope:
    """The leaf values under one element (a statement, a balance or an entry), by relative path."""

    __slots__ = ("cut", "depth", "fields", "line", "tx_count")

    def __init__(self, depth: int, line: int, prefix: str) -> None:
        self.depth = depth
        # Length of the scope element's own path plus the slash: what to cut off a descendant's path.
        self.cut = len(prefix) + 1
        self.line = line
        self.fields: dict[str, list[Field]] = {}
        self.tx_count = 0

    def get(self, path: str) -> Field | None:
        values = self.fields.get(path)
        return values[0] if values else None

    def text(self, path: str) -> str | None:
        value = self.get(path)
        return value[0] if value else None

    def all(self, path: str) -> list[str]:
        return [v[0] for v in self.fields.get(path, [])]


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
        self.parser.buffer_text = True
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._chars
        self.parser.StartDoctypeDeclHandler = self._doctype
        self.parser.EntityDeclHandler = self._entity
        self.stack: list[str] = []
        # Full path of each open element ("Document/BkToCstmrStmt/Stmt/..."), parallel to the stack.
        self.paths: list[str] = []
        self.has_child: list[bool] = []
        self.chars: list[str] = []
        self.format: str | None = None
        self.statement_tag: str | None = None
        self.statements: list[Statement] = []
        self.stmt: _Scope | None = None
        self.balance: _Scope | None = None
        self.entry: _Scope | None = None
        self.balances: list[_Scope] = []
        self.entries: list[Entry] = []
        self.not_booked = 0
        self.currency: str | None = None

    # -- expat callbacks -------------------------------------------------------------------
    def _fail(self, expected: str, found: str | None = None, line: int | None = None,
              element: str | None = None) -> MalformedFile:
        return MalformedFile(self.path, expected, line=line or self.parser.CurrentLineNumber,
                             element=element or "/".join(self.stack) or None, found=found)

    def _doctype(self, *args: Any) -> None:
        raise self._fail("an ISO 20022 XML document without a DTD", found="<!DOCTYPE ...>")

    def _entity(self, *args: Any) -> None:
        raise self._fail("an ISO 20022 XML document without entity declarations", found="<!ENTITY ...>")

    def _start(self, qname: str, attrs: dict[str, str]) -> None:
        ns, _, name = qname.rpartition(" ")
        depth = len(self.stack)
        line = self.parser.CurrentLineNumber
        if self.has_child:
            self.has_child[-1] = True
        self.stack.append(name)
        self.paths.append(f"{self.paths[-1]}/{name}" if self.paths else name)
        self.has_child.append(False)
        self.chars = []
        if depth == 0:
            if name != "Document":
                raise self._fail("an ISO 20022 <Document> root element", found=f"<{name}>", line=line)
            if ns and not ns.startswith(NS_PREFIX + "camt.05"):
                raise self._fail("the namespace of camt.053 or camt.052", found=ns, line=line)
            return
        if depth == 1:
            if name not in CONTAINERS:
                raise self._fail("<BkToCstmrStmt> (camt.053) or <BkToCstmrAcctRpt> (camt.052)",
                                 found=f"<{name}>", line=line)
            self.statement_tag, self.format = CONTAINERS[name]
            return
        if depth == 2 and name == self.statement_tag:
            self.stmt = _Scope(depth + 1, line, self.paths[-1])
            self.balances, self.entries, self.not_booked, self.currency = [], [], 0, None
            return
        if self.stmt is None:
            return
        if depth == 3 and name == "Bal":
            self.balance = _Scope(depth + 1, line, self.paths[-1])
        elif depth == 3 and name == "Ntry":
            self.entry = _Scope(depth + 1, line, self.paths[-1])
        elif self.entry is not None and name == "TxDtls":
            self.entry.tx_count += 1
        if name == "Amt":
            ccy = attrs.get("Ccy")
            if ccy is not None:
                scope = self.entry or self.balance or self.stmt
                scope.fields.setdefault(self._rel(scope) + "@Ccy", []).append((ccy, line, None))

    def _rel(self, scope: _Scope) -> str:
        return self.paths[-1][scope.cut:]

    def _chars(self, data: str) -> None:
        self.chars.append(data)

    def _end(self, qname: str) -> None:
        name = qname.rpartition(" ")[2]
        depth = len(self.stack) - 1
        had_child = self.has_child.pop()
        line = self.parser.CurrentLineNumber
        if not had_child and self.stmt is not None:
            text = "".join(self.chars).strip()
            scope = self.entry or self.balance or self.stmt
            if depth >= scope.depth:
                scope.fields.setdefault(self._rel(scope), []).append((text, line, None))
        self.chars = []
        self.stack.pop()
        self.paths.pop()
        if self.stmt is None:
            return
        if depth == 3 and name == "Bal" and self.balance is not None:
            self.balances.append(self.balance)
            self.balance = None
        elif depth == 3 and name == "Ntry" and self.entry is not None:
            # Turned into an Entry at once: only small objects stay alive through a long statement.
            self._take_entry(self.entry)
            self.entry = None
        elif depth == 2 and name == self.statement_tag:
            self.statements.append(self._statement(self.stmt))
            self.stmt = None

    # -- building the statement -------------------------------------------------------------
    def _amount(self, scope: _Scope, where: str) -> tuple[Decimal, str | None]:
        amt = scope.get("Amt")
        if amt is None:
            raise self._fail("an <Amt> element", line=scope.line, element=where)
        value = plain_decimal(amt[0])
        if value is None:
            raise self._fail("an amount like 1234.56 (digits, a dot, no sign)", found=amt[0],
                             line=amt[1], element=where + "/Amt")
        ind = scope.get("CdtDbtInd")
        if ind is None or ind[0] not in ("CRDT", "DBIT"):
            raise self._fail("<CdtDbtInd> CRDT or DBIT", found=ind[0] if ind else None,
                             line=ind[1] if ind else scope.line, element=where + "/CdtDbtInd")
        ccy = scope.text("Amt@Ccy")
        return (value if ind[0] == "CRDT" else -value), ccy

    def _date(self, scope: _Scope, base: str, where: str, required: bool) -> tuple[date, time | None] | None:
        d = scope.get(base + "/Dt")
        if d is not None:
            try:
                return date.fromisoformat(d[0]), None
            except ValueError:
                raise self._fail("a date YYYY-MM-DD", found=d[0], line=d[1],
                                 element=f"{where}/{base}/Dt") from None
        dt = scope.get(base + "/DtTm")
        if dt is not None:
            m = _DATETIME.match(dt[0])
            try:
                if m is None:
                    raise ValueError
                return date.fromisoformat(m.group(1)), time(int(m.group(2)), int(m.group(3)), int(m.group(4)))
            except ValueError:
                raise self._fail("a date-time YYYY-MM-DDThh:mm:ss", found=dt[0], line=dt[1],
                                 element=f"{where}/{base}/DtTm") from None
        if required:
            raise self._fail(f"<{base}> with <Dt> or <DtTm>", line=scope.line, element=f"{where}/{base}")
        return None

    def _statement(self, scope: _Scope) -> Statement:
        tag = self.statement_tag or "Stmt"
        account = scope.text("Acct/Id/IBAN") or scope.text("Acct/Id/Othr/Id")
        if not account:
            raise self._fail("<Acct><Id><IBAN> or <Acct><Id><Othr><Id>", line=scope.line, element=tag + "/Acct")
        currency = scope.text("Acct/Ccy")
        stmt = Statement(file=self.path, format=self.format or "camt", account=account.strip(),
                         currency=currency, line=scope.line, statement_id=scope.text("Id"))
        for bal in self.balances:
            code = bal.text("Tp/CdOrPrtry/Cd") or bal.text("Tp/CdOrPrtry/Prtry")
            if code is None:
                raise self._fail("<Tp><CdOrPrtry><Cd> (OPBD, CLBD...)", line=bal.line, element=tag + "/Bal")
            amount, ccy = self._amount(bal, tag + "/Bal")
            when = self._date(bal, "Dt", tag + "/Bal", required=False)
            self._same_currency(stmt, ccy, bal.line, tag + "/Bal/Amt")
            amt_field = bal.get("Amt")
            balance = Balance(amount, when[0] if when else None, amt_field[1] if amt_field else bal.line)
            if code in OPENING and stmt.opening is None:
                stmt.opening = balance
            elif code in CLOSING and stmt.closing is None:
                stmt.closing = balance
        if stmt.currency is None:
            stmt.currency = self.currency
        elif self.currency is not None and self.currency != stmt.currency:
            raise self._fail(f"amounts in the account currency {stmt.currency}", found=self.currency,
                             line=scope.line, element=tag + "/Ntry/Amt")
        stmt.entries = self.entries
        stmt.not_booked = self.not_booked
        return stmt

    def _same_currency(self, stmt: Statement, ccy: str | None, line: int, where: str) -> None:
        if ccy is None:
            return
        if stmt.currency is None:
            stmt.currency = ccy
        elif ccy != stmt.currency:
            raise self._fail(f"amounts in the account currency {stmt.currency}", found=ccy, line=line, element=where)

    def _take_entry(self, ntry: _Scope) -> None:
        where = f"{self.statement_tag}/Ntry"
        status = ntry.text("Sts") or ntry.text("Sts/Cd") or ntry.text("Sts/Prtry")
        if not status:
            raise self._fail("<Sts> (BOOK, PDNG, INFO)", line=ntry.line, element=where + "/Sts")
        if status != "BOOK":
            self.not_booked += 1
            return
        self.entries.append(self._entry(ntry, where))

    def _entry(self, ntry: _Scope, where: str) -> Entry:
        amount, ccy = self._amount(ntry, where)
        known = (self.stmt.text("Acct/Ccy") if self.stmt is not None else None) or self.currency
        if ccy is not None and known is not None and ccy != known:
            raise self._fail(f"amounts in the account currency {known}", found=ccy, line=ntry.line,
                             element=where + "/Amt")
        self.currency = known or ccy
        booked = self._date(ntry, "BookgDt", where, required=True)
        assert booked is not None
        tx = "NtryDtls/TxDtls/"
        single = ntry.tx_count <= 1
        ustrd = " ".join(squash(u) for u in ntry.all(tx + "RmtInf/Ustrd")) if single else ""
        if amount >= 0:
            party = ntry.text(tx + "RltdPties/Dbtr/Nm") or ntry.text(tx + "RltdPties/Dbtr/Pty/Nm")
        else:
            party = ntry.text(tx + "RltdPties/Cdtr/Nm") or ntry.text(tx + "RltdPties/Cdtr/Pty/Nm")
        party = squash(party) or None if single else None
        description = (
            ustrd
            or squash(ntry.text("AddtlNtryInf"))
            or (squash(ntry.text(tx + "AddtlTxInf")) if single else "")
            or (party or "")
            or (f"{ntry.tx_count} transactions" if ntry.tx_count > 1 else "")
            or ("Credit" if amount >= 0 else "Debit")
        )
        reference = None
        if single:
            reference = (ntry.text(tx + "RmtInf/Strd/CdtrRefInf/Ref") or ntry.text(tx + "Refs/EndToEndId"))
            if reference == "NOTPROVIDED":
                reference = None
        bank_id = ntry.text("AcctSvcrRef") or (ntry.text(tx + "Refs/AcctSvcrRef") if single else None)
        return Entry(booked=booked[0], at=booked[1], amount=amount, description=description, line=ntry.line,
                     counterparty=party, reference=reference, bank_id=bank_id, kind=sign_type(amount))


def parse(path: str | Path, source: BinaryIO | None = None) -> ParsedFile:
    with paused_gc():
        return _parse(path, source)


def _parse(path: str | Path, source: BinaryIO | None) -> ParsedFile:
    reader = _Reader(str(path))
    handle = source or open(path, "rb")  # noqa: SIM115 - closed below when we opened it
    try:
        while True:
            chunk = handle.read(_CHUNK)
            reader.parser.Parse(chunk, not chunk)
            if not chunk:
                break
    except xml.parsers.expat.ExpatError as exc:
        raise MalformedFile(str(path), "well-formed XML", line=exc.lineno,
                            found=xml.parsers.expat.ErrorString(exc.code)) from None
    finally:
        if source is None:
            handle.close()
    if reader.format is None:
        raise MalformedFile(str(path), "a camt.053 or camt.052 document", line=1)
    if not reader.statements:
        raise MalformedFile(str(path), f"at least one <{reader.statement_tag}>", element="Document")
    return ParsedFile(str(path), reader.format, reader.statements)
