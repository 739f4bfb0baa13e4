"""kit.db on SQLite: a transaction begins with BEGIN IMMEDIATE on the driver; a database another
process holds is SQLAlchemy's OperationalError (the app's 503), and the writer's turn is given back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bankfeeds.kit.db import Database


def test_a_busy_database_at_begin_is_an_operational_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    database = Database(f"sqlite:///{path}")
    with database.engine.connect() as conn:
        # The pool's one connection waits 50 ms, not 30 s, for the lock.
        conn.connection.dbapi_connection.execute("PRAGMA busy_timeout=50")  # type: ignore[union-attr]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        with pytest.raises(OperationalError, match="locked"), database.unit_of_work() as session:
            session.execute(text("SELECT 1"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    with database.unit_of_work() as session:  # the turn was given back: the next writer goes ahead
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    with database.unit_of_work() as session:
        assert session.execute(text("SELECT x FROM t")).scalar_one() == 1
    database.dispose()
