"""`alembic check` on fresh SQLite and PostgreSQL databases: models and migrations agree.

Each database kind is checked twice: migrated in demo mode (the hub's chain and the demo branch:
every model's table), and in production mode (the hub's chain only), where the database must have
none of the demo surfaces' tables and the hub's tables must match the models.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import inspect

from bankfeeds.kit import migrate
from bankfeeds.kit.db import make_engine

DEMO_PREFIXES = ("sandbox_", "xero_sandbox_", "demo_")


def check(url: str, kind: str) -> None:
    for demo in (True, False):
        mode = "demo mode" if demo else "production mode"
        with fresh(kind, url) as db:
            migrate.upgrade(db, demo=demo)
            migrate.check(db, demo=demo)
            engine = make_engine(db)
            try:
                with engine.connect() as conn:
                    tables = inspect(conn).get_table_names()
            finally:
                engine.dispose()
            demo_tables = sorted(t for t in tables if t.startswith(DEMO_PREFIXES))
            if demo and not demo_tables:
                raise SystemExit(f"{kind}, {mode}: the demo surfaces' tables are missing")
            if not demo and demo_tables:
                raise SystemExit(f"{kind}, {mode}: the demo surfaces' tables are there: {', '.join(demo_tables)}")
            print(f"{kind}, {mode}: models and migrations agree ({len(tables)} tables)")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        check(tmp, "sqlite")
    import psycopg

    admin = os.environ.get("BANKFEEDS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3):
            pass
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            print("PostgreSQL is required in CI", file=sys.stderr)
            return 1
        print("postgresql: not reachable, skipped")
        return 0
    check(admin, "postgresql")
    return 0


def fresh(kind: str, where: str) -> AbstractContextManager[str]:
    """A new, empty database: a SQLite file in the folder ``where``, or one on the server ``where``."""
    return (_sqlite if kind == "sqlite" else _postgresql)(where)


@contextmanager
def _sqlite(folder: str) -> Iterator[str]:
    yield f"sqlite:///{folder}/check-{uuid.uuid4().hex[:8]}.sqlite3"


@contextmanager
def _postgresql(admin: str) -> Iterator[str]:
    import psycopg

    name = f"bankfeeds_check_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')



if __name__ == "__main__":
    sys.exit(main())
