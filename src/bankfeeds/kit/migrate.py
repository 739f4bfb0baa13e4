"""Alembic, driven from code so the installed package can migrate itself.

``upgrade`` runs under a lock, so processes that start together never migrate concurrently: a
transaction-scoped ``pg_advisory_xact_lock`` on PostgreSQL (held until the migration commits), and
an exclusive file lock next to the database file on SQLite. Whoever takes the lock second finds
the schema at head and does nothing.

``status`` tells where a database stands against this release's migrations without changing it,
for ``/readyz`` and for processes told not to migrate (``BANKFEEDS_MIGRATE_ON_START=false``),
which ``wait_for_head`` instead.
"""

from __future__ import annotations

import fcntl
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from bankfeeds.kit.db import make_engine

# The advisory lock's key: the first 8 bytes of "bankfeeds" as a signed 64-bit integer.
ADVISORY_LOCK_KEY = int.from_bytes(b"bankfeed", "big", signed=True)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "bankfeeds:migrations")
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg


@dataclass(frozen=True)
class Upgrade:
    """What one ``upgrade`` found and left, both read under the lock."""

    before: frozenset[str]
    after: frozenset[str]

    @property
    def migrated(self) -> bool:
        return self.before != self.after

    def summary(self) -> str:
        if not self.migrated:
            return f"database schema already at {_names(self.after)}: nothing to migrate"
        return f"migrated the database schema from {_names(self.before)} to {_names(self.after)}"


def _names(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions)) or "empty"


def upgrade(url: str, revision: str = "head") -> Upgrade:
    """Apply migrations up to ``revision``, under the migration lock."""
    cfg = alembic_config(url)
    engine = make_engine(url)
    try:
        with _file_lock(url), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Released when this transaction (the whole migration) commits or rolls back.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            before = frozenset(MigrationContext.configure(conn).get_current_heads())
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            after = frozenset(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
    return Upgrade(before=before, after=after)


@contextmanager
def _file_lock(url: str) -> Iterator[None]:
    """An exclusive lock on ``<database file>.migrate.lock`` for a SQLite file; nothing otherwise."""
    path = _sqlite_file(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate.lock"), "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite") or ":///" not in url:
        return None
    raw = url.split(":///", 1)[1].split("?", 1)[0]
    return Path(raw) if raw and raw != ":memory:" else None


@lru_cache(maxsize=1)
def heads() -> frozenset[str]:
    """The head revisions this release's migrations end at."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


@lru_cache(maxsize=1)
def _known_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(rev.revision for rev in script.walk_revisions())


@dataclass(frozen=True)
class Status:
    current: frozenset[str]
    heads: frozenset[str]

    @property
    def ahead(self) -> bool:
        """The database was migrated by a newer release (a rolling upgrade in progress)."""
        return bool(self.current - _known_revisions())

    @property
    def at_head(self) -> bool:
        """Ready to serve: every migration of this release applied (or a newer release's)."""
        return self.current == self.heads or self.ahead

    def describe(self) -> str:
        current = ", ".join(sorted(self.current)) or "empty (never migrated)"
        return f"the database schema is at {current}; this release needs {', '.join(sorted(self.heads))}"


def status_of(conn: Connection) -> Status:
    """Where the database on ``conn`` stands; reads only."""
    current = frozenset(MigrationContext.configure(conn).get_current_heads())
    return Status(current=current, heads=heads())


def status(url: str) -> Status:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return status_of(conn)
    finally:
        engine.dispose()


class SchemaNotReady(RuntimeError):
    """The schema did not reach head in time (or the database could not be reached)."""


def wait_for_head(url: str, timeout_seconds: float, *, poll_seconds: float = 1.0) -> Status:
    """Wait, without migrating, until another process (``bankfeeds db upgrade``) has migrated.

    Says once, on stderr, what it waits for; raises SchemaNotReady after ``timeout_seconds``.
    """
    deadline = time.monotonic() + timeout_seconds
    announced = False
    while True:
        found, problem = _probe(url)
        if found is not None and found.at_head:
            if announced:
                _say(f"{found.describe()}: starting")
            return found
        if not announced:
            _say(f"{problem}. Not migrating (BANKFEEDS_MIGRATE_ON_START=false): waiting up to "
                 f"{timeout_seconds:.0f} s for `bankfeeds db upgrade` to run")
            announced = True
        if time.monotonic() >= deadline:
            raise SchemaNotReady(
                f"{problem}. Refusing to start: run `bankfeeds db upgrade` (the migration job) first, "
                "or set BANKFEEDS_MIGRATE_ON_START=true to migrate at start."
            )
        time.sleep(poll_seconds)


def _probe(url: str) -> tuple[Status | None, str]:
    try:
        found = status(url)
    except (DBAPIError, OSError) as exc:  # the database may still be starting
        return None, f"the database is not reachable ({type(exc).__name__})"
    return found, found.describe()


def check(url: str) -> None:
    """Raise if the models and the migrations disagree (``alembic check``)."""
    cfg = alembic_config(url)
    command.check(cfg)


def revision(url: str, message: str) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)


def on_start(url: str, migrate_on_start: bool, wait_seconds: float, *, announce: bool = True) -> None:
    """What `serve` and `worker` do first: migrate under the lock, or wait for head and exit if it never comes.

    Says on stderr which it did (logging is not configured yet at this point of start-up); with
    ``announce=False`` (one-shot CLI commands) only a migration that changed something is told.
    """
    if migrate_on_start:
        result = upgrade(url)
        if announce or result.migrated:
            _say(result.summary())
        return
    try:
        wait_for_head(url, wait_seconds)
    except SchemaNotReady as exc:
        raise SystemExit(f"bankfeeds: {exc}") from None


def _say(line: str) -> None:
    print(f"bankfeeds: {line}", file=sys.stderr, flush=True)
