"""The framework floor of ``bench push``: the least a FastAPI endpoint can do for one push.

A minimal FastAPI app under the same uvicorn options as ``bankfeeds serve``
(``kit/serving.uvicorn_options``, same log level, no access log): it parses the same JSON (exact
Decimals, stdlib ``json``), inserts the one row into the same ``bank_transactions`` table of a
migrated database with stdlib ``sqlite3`` (the app's pragmas: WAL, synchronous=NORMAL, foreign
keys, BEGIN IMMEDIATE) or ``psycopg``, commits, and answers a small JSON object. No
authentication, no rules, no push operation: the floor, not a competitor.

Run as ``python -m bench.push_floor``; environment: ``FLOOR_DATABASE_URL``, ``FLOOR_PORT``,
``FLOOR_ACCOUNTS`` (JSON: accountId -> source account primary key), ``FLOOR_OPERATION`` (a push
operation key).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from bankfeeds.kit import serving

URL = os.environ["FLOOR_DATABASE_URL"]
ACCOUNTS: dict[str, uuid.UUID] = {k: uuid.UUID(v) for k, v in json.loads(os.environ["FLOOR_ACCOUNTS"]).items()}
OPERATION = uuid.UUID(os.environ["FLOOR_OPERATION"])
SQLITE = URL.startswith("sqlite")
_local = threading.local()

_SQLITE_INSERT = (
    "INSERT INTO bank_transactions (source_account_id, push_operation_key, transaction_id, date, description, "
    "counterparty, reference, reconciled, amount, balance, transaction_type, modified_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_PG_INSERT = _SQLITE_INSERT.replace("?", "%s")


def _connection() -> Any:
    conn = getattr(_local, "conn", None)
    if conn is None:
        if SQLITE:
            import sqlite3

            conn = sqlite3.connect(URL.split(":///", 1)[1], timeout=30, check_same_thread=False,
                                   isolation_level=None)
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL"):
                conn.execute(f"PRAGMA {pragma}")
        else:
            import psycopg

            conn = psycopg.connect(URL)
        _local.conn = conn
    return conn


app = FastAPI()


async def raw_body(request: Request) -> bytes:
    return await request.body()


@app.post("/companies/{companyId}/connections/{connectionId}/push/bankAccounts/{accountId}/bankTransactions")
def push(
    companyId: str, connectionId: str, accountId: str, body: Annotated[bytes, Depends(raw_body)]
) -> JSONResponse:
    """A plain endpoint (FastAPI runs it in its threadpool, as it runs ours)."""
    data = json.loads(body, parse_float=Decimal)
    account = ACCOUNTS[accountId]
    now = datetime.now(UTC)
    conn = _connection()
    for t in data["transactions"]:
        amount = Decimal(t["amount"])
        balance = Decimal(t["balance"])
        row_date = datetime.fromisoformat(t["date"])
        if SQLITE:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_SQLITE_INSERT, (
                account.hex, OPERATION.hex, t["id"], row_date.isoformat(" "), t.get("description"),
                t.get("counterparty"), t.get("reference"), t.get("reconciled"), format(amount, "f"),
                format(balance, "f"), t.get("transactionType"), now.isoformat(" "),
            ))
            conn.execute("COMMIT")
        else:
            conn.execute(_PG_INSERT, (
                account, OPERATION, t["id"], row_date, t.get("description"), t.get("counterparty"),
                t.get("reference"), t.get("reconciled"), amount, balance, t.get("transactionType"), now,
            ))
            conn.commit()
    return JSONResponse({"status": "Success", "transactionCount": len(data["transactions"])})


def main() -> None:
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["FLOOR_PORT"]), workers=1, log_level="info",
                access_log=False, **serving.uvicorn_options(max_connections=None))


if __name__ == "__main__":
    main()
