"""`alembic check` on a fresh SQLite and a fresh PostgreSQL database: models and migrations agree."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid

from bankfeeds.kit import migrate


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/check.sqlite3"
        migrate.upgrade(url)
        migrate.check(url)
        print("sqlite: models and migrations agree")
    import psycopg

    admin = os.environ.get("BANKFEEDS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"bankfeeds_check_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            print("PostgreSQL is required in CI", file=sys.stderr)
            return 1
        print("postgresql: not reachable, skipped")
        return 0
    try:
        url = admin.rsplit("/", 1)[0] + f"/{name}"
        migrate.upgrade(url)
        migrate.check(url)
        print("postgresql: models and migrations agree")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
