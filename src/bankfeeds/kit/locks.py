"""Owner locks: held by a live process for as long as it works on something, freed by its death.

``try_acquire(database, name)`` never waits: it returns a ``Held`` lock, or None when another
live request (in this process or any other on the same database) holds ``name``. A process that
dies, kill -9 included, frees every lock it held, so whoever takes a lock next knows the last
owner is gone:

* PostgreSQL: a session-level advisory lock on a dedicated connection; the server frees it when
  that connection closes (the process exits or dies).
* SQLite: a byte-range lock (``lockf``) in a file next to the database, which the kernel frees
  when the process exits, plus an in-process registry (POSIX locks do not conflict within one
  process). An in-memory database has one process: the registry alone.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bankfeeds.kit.db import Database

_local_lock = threading.Lock()
_local_held: set[tuple[str, int]] = set()
_files: dict[str, tuple[int, int]] = {}  # lock file path -> (pid that opened it, fd)


def lock_id(name: str) -> int:
    """A positive 62-bit number for ``name`` (an advisory lock key, a byte offset)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") >> 2


class Held:
    def __init__(self, release: Any) -> None:
        self._release = release
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._release()


def try_acquire(database: Database, name: str) -> Held | None:
    key = lock_id(name)
    if database.dialect == "postgresql":
        return _pg_try_acquire(database, key)
    return _sqlite_try_acquire(database, key)


def _pg_try_acquire(database: Database, key: int) -> Held | None:
    conn = database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
    except BaseException:
        conn.close()
        raise
    if not got:
        conn.close()
        return None

    def release() -> None:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        except Exception:
            conn.invalidate()  # a closed session frees its locks
        finally:
            conn.close()

    return Held(release)


def _lock_file(database: Database) -> int | None:
    url = database.url
    raw = url.split(":///", 1)[1] if ":///" in url else ""
    if not raw or raw == ":memory:":
        return None
    path = str(Path(raw).resolve()) + ".locks"
    pid = os.getpid()
    opened = _files.get(path)
    if opened is None or opened[0] != pid:  # a forked child opens its own
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        _files[path] = (pid, fd)
        return fd
    return opened[1]


def _sqlite_try_acquire(database: Database, key: int) -> Held | None:
    token = (database.url, key)
    with _local_lock:
        if token in _local_held:
            return None
        fd = _lock_file(database)
        if fd is not None:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, key)
            except OSError:
                return None
        _local_held.add(token)

    def release() -> None:
        with _local_lock:
            if fd is not None:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, key)
            _local_held.discard(token)

    return Held(release)
