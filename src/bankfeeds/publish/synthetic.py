"""Synthetic camt.053 statements of any size, for tests, demos and the benchmark."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

WORDS = ("Coffee", "Rent", "Invoice", "Payroll", "Fuel", "Office supplies", "Refund", "Transfer", "Card payment",
         "Utilities", "Insurance", "Subscription")


@dataclass(frozen=True)
class Written:
    path: Path
    count: int
    opening: Decimal
    closing: Decimal
    first: date
    last: date


def write_camt053(path: Path, count: int, *, iban: str = "DE89370400440532013000", start: date = date(2026, 11, 1),
                  days: int = 20, opening: Decimal = Decimal("10000.00"), seed: int = 1,
                  with_refs: bool = True) -> Written:
    """One statement of ``count`` booked entries spread evenly over ``days`` days from ``start``."""
    rng = random.Random(seed)
    per_day = max(1, -(-count // days))
    closing = opening
    entries = []
    for i in range(count):
        day = start + timedelta(days=i // per_day)
        cents = rng.randint(1, 250_000)
        credit = rng.random() < 0.4
        amount = Decimal(cents).scaleb(-2)
        closing += amount if credit else -amount
        text = f"{rng.choice(WORDS)} {rng.randint(1, 99999)}"
        ref = f"<AcctSvcrRef>REF-{seed}-{i:08d}</AcctSvcrRef>" if with_refs else ""
        entries.append(
            f"<Ntry><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd>"
            f"<Sts>BOOK</Sts><BookgDt><Dt>{day.isoformat()}</Dt></BookgDt><ValDt><Dt>{day.isoformat()}</Dt></ValDt>"
            f"{ref}<BkTxCd/><NtryDtls><TxDtls><RmtInf><Ustrd>{escape(text)}</Ustrd></RmtInf></TxDtls></NtryDtls>"
            "</Ntry>\n"
        )
    last = start + timedelta(days=(count - 1) // per_day) if count else start

    def bal(code: str, amount: Decimal, on: date) -> str:
        ind = "CRDT" if amount >= 0 else "DBIT"
        return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{abs(amount)}</Amt>"
                f"<CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>{on.isoformat()}</Dt></Dt></Bal>\n")

    with path.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                 '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">\n<BkToCstmrStmt>\n'
                 f"<GrpHdr><MsgId>SYN-{seed}</MsgId><CreDtTm>{last.isoformat()}T23:00:00</CreDtTm></GrpHdr>\n"
                 f"<Stmt><Id>SYN-{seed}</Id><CreDtTm>{last.isoformat()}T23:00:00</CreDtTm>\n"
                 f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>\n")
        fh.write(bal("OPBD", opening, start))
        fh.write(bal("CLBD", closing, last))
        fh.writelines(entries)
        fh.write("</Stmt>\n</BkToCstmrStmt>\n</Document>\n")
    return Written(path, count, opening, closing, start, last)
