"""The local record of what was sent to one source account: the account's high-water mark.

Codat's Bank Feeds API cannot say what an account already holds: there is no list of written
transactions, and a push operation names neither the account nor the transactions it carried (the
``data`` echo is deprecated and Codat no longer keeps written records). So the command keeps its own
journal per (server, company, connection, source account), a JSON-lines file appended and fsynced
record by record, and works the same against Codat and against this hub:

- ``begin``: a batch is about to be sent (its ids, newest date, idempotency key, and the body in a
  side file so a resumed run re-sends exactly the same bytes under the same key);
- ``key``: a new idempotency key for the batch (after a 5xx, which Codat caches with the key);
- ``pushed``: the server accepted it, with the push operation key to follow;
- ``done``: the push operation finished (Success, Failed, TimedOut) or was refused (Rejected).

A batch begun and never done is resolved first on the next run (by its push operation, or by
re-sending the same body with the same key). An exclusive lock keeps two runs off one account.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bankfeeds.kit import jsonutil


class JournalBusy(Exception):
    """Another run is publishing to the same account."""


def default_directory() -> Path:
    env = os.environ.get("BANKFEEDS_PUBLISH_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "bankfeeds" / "publish"


@dataclass
class OpenBatch:
    batch: str
    key: str
    ids: list[str]
    newest: datetime
    balance: Decimal | None
    push_operation: str | None = None


@dataclass
class JournalState:
    sent_ids: set[str] = field(default_factory=set)
    newest: datetime | None = None
    balance: Decimal | None = None
    open: dict[str, OpenBatch] = field(default_factory=dict)
    batches_done: int = 0


class Journal:
    def __init__(self, directory: Path, server_url: str, company: str, connection: str, account: str) -> None:
        self.identity = {"server": server_url.rstrip("/"), "company": company, "connection": connection,
                         "account": account}
        digest = hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()[:24]
        self.directory = directory
        self.path = directory / f"{digest}.jsonl"
        self.bodies = directory / f"{digest}.inflight"
        self._fh: Any = None
        self.state = JournalState()

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> Journal:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            self._fh = None
            raise JournalBusy(f"another publish to account {self.identity['account']} is running "
                              f"(journal {self.path} is locked)") from None
        self._fh.seek(0)
        lines = self._fh.read().splitlines()
        if not lines:
            self._write({"t": "account", **self.identity})
        for raw in lines:
            if raw.strip():
                try:
                    self._apply(json.loads(raw))
                except (ValueError, KeyError):
                    # A torn last line from a killed run: the record never completed, ignore it.
                    continue
        return self

    def close(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> Journal:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    @contextlib.contextmanager
    def read_only(
        directory: Path, server_url: str, company: str, connection: str, account: str
    ) -> Iterator[JournalState]:
        """The state, without locking or creating anything (for --dry-run)."""
        j = Journal(directory, server_url, company, connection, account)
        if j.path.exists():
            for raw in j.path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError):
                    j._apply(json.loads(raw))
        yield j.state

    # -- records -----------------------------------------------------------------------------
    def _write(self, record: dict[str, Any]) -> None:
        self._fh.write(jsonutil.dumps(record) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def _apply(self, r: dict[str, Any]) -> None:
        t = r["t"]
        s = self.state
        if t == "begin":
            s.open[r["batch"]] = OpenBatch(
                r["batch"], r["key"], list(r["ids"]), datetime.fromisoformat(r["newest"]),
                Decimal(r["balance"]) if r.get("balance") is not None else None,
            )
        elif t == "key" and r["batch"] in s.open:
            s.open[r["batch"]].key = r["key"]
        elif t == "pushed" and r["batch"] in s.open:
            s.open[r["batch"]].push_operation = r["op"]
        elif t == "done" and r["batch"] in s.open:
            b = s.open.pop(r["batch"])
            if r["status"] == "Success":
                failed = set(r.get("failed", []))
                s.sent_ids.update(i for i in b.ids if i not in failed)
                if s.newest is None or b.newest > s.newest:
                    s.newest = b.newest
                    s.balance = b.balance
                s.batches_done += 1

    def body_path(self, batch: str) -> Path:
        return self.bodies / f"{batch}.json"

    def begin(self, batch: str, key: str, ids: list[str], newest: datetime, balance: Decimal | None,
              body: bytes) -> None:
        self.bodies.mkdir(parents=True, exist_ok=True)
        tmp = self.body_path(batch).with_suffix(".tmp")
        with tmp.open("wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.body_path(batch))
        record = {"t": "begin", "batch": batch, "key": key, "ids": ids, "newest": newest.isoformat(),
                  "balance": str(balance) if balance is not None else None}
        self._write(record)
        self._apply(record)

    def body(self, batch: str) -> bytes | None:
        p = self.body_path(batch)
        return p.read_bytes() if p.exists() else None

    def rekey(self, batch: str, key: str) -> None:
        record = {"t": "key", "batch": batch, "key": key}
        self._write(record)
        self._apply(record)

    def pushed(self, batch: str, push_operation: str) -> None:
        record = {"t": "pushed", "batch": batch, "op": push_operation}
        self._write(record)
        self._apply(record)

    def done(self, batch: str, status: str, failed: list[str] | None = None, op: str | None = None) -> None:
        record: dict[str, Any] = {"t": "done", "batch": batch, "status": status}
        if failed:
            record["failed"] = failed
        if op:
            record["op"] = op
        self._write(record)
        self._apply(record)
        with contextlib.suppress(FileNotFoundError):
            self.body_path(batch).unlink()
