"""What every benchmark needs: a fresh, migrated database of each kind, and the kinds to run.

Serving the app (a free port, uvicorn in a thread, waiting for a server) and test data (a company,
a connection, source accounts) come from the tests' pytest-free helpers, ``tests/fixtures/serving.py``
and ``tests/fixtures/factories.py``."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bankfeeds.kit import migrate

PG_ADMIN_URL = os.environ.get("BANKFEEDS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def fresh_database(
    kind: str, tmp: Path | None = None, *, label: str = "bench", required: bool = False, migrated: bool = True
) -> Iterator[str | None]:
    """A database migrated in demo mode (benches use the sandboxes), removed afterwards: a SQLite file (under ``tmp`` if given) or a
    throwaway PostgreSQL database. Yields None when PostgreSQL is unreachable, unless ``required``.
    ``migrated=False``: left empty (for code of another checkout to migrate, ``bench/ab_push.py``)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"{label}-") as own:
            url = f"sqlite:///{Path(tmp or own) / f'{label}-{uuid.uuid4().hex[:8]}.sqlite3'}"
            if migrated:
                migrate.upgrade(url, demo=True)
            yield url
        return
    import psycopg

    name = f"bankfeeds_{label}_{uuid.uuid4().hex[:8]}".replace("-", "_")
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if required:
            raise
        print(f"PostgreSQL not reachable ({type(exc).__name__}): skipped")
        yield None
        return
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        if migrated:
            migrate.upgrade(url, demo=True)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def each_database_kind(variable: str) -> Iterator[tuple[str, Path]]:
    """The database kinds named in ``$variable`` (default ``sqlite,postgresql``), each with one
    temporary folder for the run; PostgreSQL is skipped, saying so, when it is unreachable."""
    kinds = [k.strip() for k in os.environ.get(variable, "sqlite,postgresql").split(",") if k.strip()]
    with tempfile.TemporaryDirectory(prefix="bankfeeds-bench-") as tmp:
        for kind in kinds:
            if kind == "postgresql" and not postgres_reachable():
                print(f"postgresql: not reachable at {PG_ADMIN_URL}, skipped", flush=True)
                continue
            yield kind, Path(tmp)
