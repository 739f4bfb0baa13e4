"""Alembic, driven from code so the installed package can migrate itself.

``upgrade`` runs under a lock, so processes that start together never migrate concurrently: a
transaction-scoped ``pg_advisory_xact_lock`` on PostgreSQL (held until the migration commits), and
an exclusive file lock next to the database file on SQLite. Whoever takes the lock second finds
the schema at head and does nothing.

``status`` tells where a database stands against this release's migrations without changing it,
for ``/readyz`` and for processes told not to migrate (``BANKFEEDS_MIGRATE_ON_START=false``),
which ``wait_for_head`` instead.

Two lines of revisions share one versions folder: the hub's chain, which every database gets, and
the ``demo`` branch (label ``DEMO_BRANCH``), which holds the tables of the demo surfaces and is
applied only in demo mode. So every function here takes the mode (``demo``): in production mode a
database is "at head" at the hub's heads, and never gets the demo tables.
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
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import DBAPIError

from bankfeeds.kit.db import make_engine

# The advisory lock's key: the first 8 bytes of "bankfeeds" as a signed 64-bit integer.
ADVISORY_LOCK_KEY = int.from_bytes(b"bankfeed", "big", signed=True)

# The branch label of the demo surfaces' revisions (QuickBooks sandbox, Xero sandbox, demo bank).
DEMO_BRANCH = "demo"


def migration_engine(url: str) -> Engine:
    """The engine migrations run on. SQLite: with foreign key enforcement off, as SQLite's own
    procedure for schema changes has it: a batch operation that rebuilds a table (copy, drop the
    old, rename) would otherwise delete, by ON DELETE CASCADE, every child row of the table it
    drops (a source account's transactions). ``check_foreign_keys`` then checks every reference
    before the migration commits."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        # After the engine's own pragmas (listeners run in the order they were added); outside any
        # transaction, where the pragma takes effect.
        @event.listens_for(engine, "connect")
        def _no_enforcement(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA foreign_keys=OFF")

    return engine


def check_foreign_keys(conn: Connection) -> None:
    """SQLite, after a migration ran with enforcement off: every reference must still hold, or the
    migration rolls back."""
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        shown = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in broken[:5])
        raise RuntimeError(f"the migration left {len(broken)} broken foreign key reference(s): {shown}")


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


def upgrade(url: str, revision: str | None = None, *, demo: bool) -> Upgrade:
    """Apply migrations, under the migration lock: up to this mode's heads (the hub's chain; in
    demo mode the demo branch too), or up to ``revision`` when given (as ``alembic upgrade`` would).

    In demo mode the demo branch goes first: on a database migrated before the demo tables left the
    hub's chain, it adopts them (with the demo's data) before the hub's revision that would drop them.
    """
    cfg = alembic_config(url)
    engine = migration_engine(url)
    try:
        with _file_lock(url), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Released when this transaction (the whole migration) commits or rolls back.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            before = frozenset(MigrationContext.configure(conn).get_current_heads())
            cfg.attributes["connection"] = conn
            if revision is not None:
                command.upgrade(cfg, revision)
            else:
                if demo:
                    command.upgrade(cfg, f"{DEMO_BRANCH}@heads")
                for head in sorted(heads(demo=False)):
                    command.upgrade(cfg, head)
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
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


@lru_cache(maxsize=2)
def heads(*, demo: bool) -> frozenset[str]:
    """The head revisions a database of this release reaches: the hub's chain, and in demo mode the demo branch's."""
    script = _script()
    return frozenset(head for head in script.get_heads()
                     if demo or DEMO_BRANCH not in script.get_revision(head).branch_labels)


@lru_cache(maxsize=1)
def _known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in _script().walk_revisions())


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
        """Ready to serve: every migration of this release applied (or a newer release's).

        A database with the demo branch applied is at head in production mode too (its hub heads
        are applied; the demo tables are merely unused)."""
        return self.heads <= self.current or self.ahead

    def describe(self) -> str:
        current = ", ".join(sorted(self.current)) or "empty (never migrated)"
        return f"the database schema is at {current}; this release needs {', '.join(sorted(self.heads))}"


def status_of(conn: Connection, *, demo: bool) -> Status:
    """Where the database on ``conn`` stands against this mode's heads; reads only."""
    current = frozenset(MigrationContext.configure(conn).get_current_heads())
    return Status(current=current, heads=heads(demo=demo))


def status(url: str, *, demo: bool) -> Status:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return status_of(conn, demo=demo)
    finally:
        engine.dispose()


class SchemaNotReady(RuntimeError):
    """The schema did not reach head in time (or the database could not be reached)."""


def wait_for_head(url: str, timeout_seconds: float, *, demo: bool, poll_seconds: float = 1.0) -> Status:
    """Wait, without migrating, until another process (``bankfeeds db upgrade``) has migrated.

    Says once, on stderr, what it waits for; raises SchemaNotReady after ``timeout_seconds``.
    """
    deadline = time.monotonic() + timeout_seconds
    announced = False
    while True:
        found, problem = _probe(url, demo=demo)
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


def _probe(url: str, *, demo: bool) -> tuple[Status | None, str]:
    try:
        found = status(url, demo=demo)
    except (DBAPIError, OSError) as exc:  # the database may still be starting
        return None, f"the database is not reachable ({type(exc).__name__})"
    return found, found.describe()


def check(url: str, *, demo: bool) -> None:
    """Raise CommandError if the models and the migrations disagree (``alembic check``) on a
    database at this mode's heads. In production mode the models' demo tables are left out of the
    comparison (``env.py``'s ``include_object``), and a demo table in the database is a difference
    unless the database has the demo branch applied.
    """
    cfg = alembic_config(url)
    cfg.attributes["tables"] = "all" if demo else "hub"
    script = ScriptDirectory.from_config(cfg)
    diffs: list[Any] = []

    def compare(_revision: Any, context: MigrationContext) -> list[Any]:
        found = Status(current=frozenset(context.get_current_heads()), heads=heads(demo=demo))
        if not found.at_head or found.ahead:
            raise CommandError(f"{found.describe()}: migrate it to this release's heads first")
        diffs.extend(compare_metadata(context, context.opts["target_metadata"]))
        return []

    with EnvironmentContext(cfg, script, fn=compare):
        script.run_env()
    if diffs:
        raise CommandError(f"New upgrade operations detected: {diffs}")


def revision(url: str, message: str, *, demo: bool = False) -> None:
    """Autogenerate a new revision on the hub's chain, or (``demo=True``) on the demo branch, each
    seeing only its own tables. ``url`` is a database at every head (migrated in demo mode)."""
    cfg = alembic_config(url)
    cfg.attributes["tables"] = "demo" if demo else "hub"
    (head,) = heads(demo=demo) - heads(demo=False) if demo else heads(demo=False)
    command.revision(cfg, message=message, autogenerate=True, head=head)


def on_start(url: str, migrate_on_start: bool, wait_seconds: float, *, demo: bool, announce: bool = True) -> None:
    """What `serve` and `worker` do first: migrate under the lock, or wait for head and exit if it never comes.

    Says on stderr which it did (logging is not configured yet at this point of start-up); with
    ``announce=False`` (one-shot CLI commands) only a migration that changed something is told.
    """
    if migrate_on_start:
        result = upgrade(url, demo=demo)
        if announce or result.migrated:
            _say(result.summary())
        return
    try:
        wait_for_head(url, wait_seconds, demo=demo)
    except SchemaNotReady as exc:
        raise SystemExit(f"bankfeeds: {exc}") from None


def _say(line: str) -> None:
    print(f"bankfeeds: {line}", file=sys.stderr, flush=True)
