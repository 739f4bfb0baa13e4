"""SWIFT MT940 customer statement messages.

Written here rather than with the ``mt-940`` package: that one matches each field with a permissive
regular expression and keeps what matched, so a malformed amount such as ``1087,5O`` is read as
1087.5 without a word, and its errors carry no line number. This reader is strict about every field
it uses, names the line of any fault, and reads files holding several messages, with or without the
SWIFT block envelope (``{1:...}{2:...}{4:`` ... ``-}``).

Field 86 is read three ways: the German structured form (``166?00...?20...?32...``), the
``/KEY/value`` form (``/NAME/.../REMI/...``), or plain text; wrapped lines of the structured forms
are joined as they were split, plain text with a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from bankfeeds.publish.model import Balance, Entry, MalformedFile, ParsedFile, Statement
from bankfeeds.publish.parsers.common import sign_type, squash

_TAG = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
_BALANCE = re.compile(r"^([CD])(\d{6})([A-Z]{3})(\d{1,12},\d{0,3})$")
_LINE61 = re.compile(
    r"^(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>RC|RD|C|D)(?P<funds>[A-Z])?"
    r"(?P<amount>\d{1,12},\d{0,3})(?P<type>[NSF][A-Z0-9]{3})(?P<cref>(?:(?!//).){0,16})"
    r"(?://(?P<bref>.{0,16}))?$"
)
_GVC = re.compile(r"^\d{3}\?")
_SUBFIELD = re.compile(r"\?(\d{2})")
_SLASH_KEYS = ("NAME", "REMI", "EREF", "CSID", "MARF", "TRTP", "IBAN", "BIC", "ORDP", "BENM", "ADDR", "ISDT")

TYPE_CODES = {"CHG": "SerChg", "COM": "Fee", "INT": "Int", "DIV": "Div", "CHK": "Check", "TRF": "Xfer",
              "DDT": "DirectDebit", "STO": "RepeatPmt", "CMI": "Other"}


@dataclass
class _Field:
    tag: str
    line: int
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _amount(text: str) -> Decimal:
    whole, _, frac = text.partition(",")
    return Decimal(f"{whole}.{frac or '0'}")


def _yymmdd(text: str) -> date:
    year = int(text[:2])
    return date(2000 + year if year < 80 else 1900 + year, int(text[2:4]), int(text[4:6]))


def _messages(path: str, text: str) -> list[list[_Field]]:
    """The lines of the file grouped into messages, each a list of tagged fields."""
    messages: list[list[_Field]] = []
    current: list[_Field] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if line.startswith("{"):
            # SWIFT envelope: {1:...}{2:...}{4: then the fields on the next lines.
            if "{4:" in line:
                rest = line.split("{4:", 1)[1].strip()
                if rest:
                    line = rest
                else:
                    continue
            else:
                continue
        stripped = line.strip()
        if stripped in ("-", "-}") or stripped.startswith("-}"):
            if current:
                messages.append(current)
            current = []
            continue
        if not stripped:
            continue
        m = _TAG.match(line)
        if m:
            current.append(_Field(m.group(1), number, [m.group(2)]))
        elif current:
            current[-1].lines.append(line)
        else:
            raise MalformedFile(path, "a field tag such as :20: at the start of the message", line=number,
                                found=line)
    if current:
        messages.append(current)
    return messages


def _balance(path: str, f: _Field) -> tuple[Balance, str]:
    m = _BALANCE.match(f.text.strip())
    if not m:
        raise MalformedFile(path, "a balance like C261101EUR1000,00 (mark, YYMMDD, currency, amount)",
                            line=f.line, element=f":{f.tag}:", found=f.text)
    try:
        on = _yymmdd(m.group(2))
    except ValueError:
        raise MalformedFile(path, "a valid date YYMMDD", line=f.line, element=f":{f.tag}:",
                            found=m.group(2)) from None
    amount = _amount(m.group(4))
    return Balance(amount if m.group(1) == "C" else -amount, on, f.line), m.group(3)


def _info(text: str) -> tuple[str, str | None, str | None]:
    """Field 86: (description, counterparty, reference)."""
    joined = "".join(text.splitlines())
    if _GVC.match(joined):
        parts: dict[str, str] = {}
        pieces = _SUBFIELD.split(joined[3:])
        for code, value in zip(pieces[1::2], pieces[2::2], strict=False):
            parts[code] = parts.get(code, "") + value
        purpose = "".join(parts.get(str(n), "") for n in [*range(20, 30), *range(60, 64)])
        name = squash(parts.get("32", "") + parts.get("33", "")) or None
        sepa = dict(re.findall(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC)\+(.*?)(?=(?:EREF|KREF|MREF|CRED|"
                               r"DEBT|SVWZ|ABWA|ABWE|IBAN|BIC)\+|$)", purpose))
        if sepa:
            purpose = sepa.get("SVWZ", "")
        reference = squash(sepa.get("EREF")) or None
        if reference == "NOTPROVIDED":
            reference = None
        description = squash(purpose) or squash(parts.get("00")) or name or ""
        return description, name, reference
    if joined.startswith("/") and any(f"/{k}/" in joined for k in _SLASH_KEYS):
        keys = "|".join(_SLASH_KEYS)
        values = dict(re.findall(rf"/({keys})/(.*?)(?=/(?:{keys})/|$)", joined))
        name = squash(values.get("NAME")) or None
        reference = squash(values.get("EREF")) or None
        if reference == "NOTPROVIDED":
            reference = None
        description = squash(values.get("REMI")) or name or squash(values.get("TRTP")) or ""
        return description, name, reference
    return squash(text), None, None


def _entry(path: str, f: _Field, currency: str) -> Entry:
    first, *extra = f.lines
    m = _LINE61.match(first.strip())
    if not m:
        raise MalformedFile(
            path, "a statement line: value date YYMMDD, [entry date MMDD], C/D/RC/RD, amount like 12,50, "
            "type code like NTRF, reference", line=f.line, element=":61:", found=first)
    try:
        value = _yymmdd(m.group("value"))
        booked = value
        if m.group("entry"):
            month, day = int(m.group("entry")[:2]), int(m.group("entry")[2:])
            year = value.year
            if month == 12 and value.month == 1:
                year -= 1
            elif month == 1 and value.month == 12:
                year += 1
            booked = date(year, month, day)
    except ValueError:
        raise MalformedFile(path, "valid dates (value YYMMDD, entry MMDD)", line=f.line, element=":61:",
                            found=first[:10]) from None
    amount = _amount(m.group("amount"))
    if m.group("mark") in ("D", "RC"):
        amount = -amount
    cref = m.group("cref").strip() or None
    if cref == "NONREF":
        cref = None
    code = m.group("type")[1:]
    kind = TYPE_CODES.get(code, sign_type(amount))
    detail = squash(" ".join(extra)) or None
    return Entry(booked=booked, amount=amount, description=detail or "", line=f.line, reference=cref, kind=kind)


def _statement(path: str, fields: list[_Field]) -> Statement:
    by_tag: dict[str, _Field] = {}
    for f in fields:
        by_tag.setdefault(f.tag, f)
    start = fields[0].line
    for required in ("20", "25"):
        if required not in by_tag:
            raise MalformedFile(path, f"field :{required}: in the message starting here", line=start)
    opening_field = by_tag.get("60F") or by_tag.get("60M")
    closing_field = by_tag.get("62F") or by_tag.get("62M")
    if opening_field is None:
        raise MalformedFile(path, "an opening balance :60F: or :60M:", line=start)
    if closing_field is None:
        raise MalformedFile(path, "a closing balance :62F: or :62M:", line=start)
    opening, currency = _balance(path, opening_field)
    closing, closing_ccy = _balance(path, closing_field)
    if closing_ccy != currency:
        raise MalformedFile(path, f"the closing balance in {currency} like the opening balance",
                            line=closing.line, element=f":{closing_field.tag}:", found=closing_ccy)
    stmt = Statement(file=path, format="mt940", account=by_tag["25"].text.strip(), currency=currency,
                     line=start, statement_id=by_tag["20"].text.strip(), opening=opening, closing=closing)
    seen_opening = False
    last: Entry | None = None
    for f in fields:
        if f.tag in ("60F", "60M"):
            seen_opening = True
        elif f.tag == "61":
            if not seen_opening or f.line > closing_field.line:
                raise MalformedFile(path, ":61: lines between the opening :60: and the closing :62: balance",
                                    line=f.line, element=":61:")
            last = _entry(path, f, currency)
            stmt.entries.append(last)
        elif f.tag == "86" and last is not None and f.line < closing_field.line:
            description, party, reference = _info(f.text)
            last.description = description or last.description
            last.counterparty = party
            last.reference = reference or last.reference
            last = None
    for e in stmt.entries:
        if not e.description:
            e.description = e.reference or ("Credit" if e.amount >= 0 else "Debit")
    return stmt


def parse(path: str | Path, raw: bytes | None = None) -> ParsedFile:
    name = str(path)
    text = _decode(raw if raw is not None else Path(path).read_bytes())
    messages = _messages(name, text)
    if not messages:
        raise MalformedFile(name, "at least one MT940 message (:20: ... :62F:)", line=1)
    return ParsedFile(name, "mt940", [_statement(name, m) for m in messages])
