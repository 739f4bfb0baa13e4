"""The demo surfaces' tables live on their own migration branch, applied only in demo mode.

A production database (hub's chain only) has no ``sandbox_*``, ``xero_sandbox_*`` or ``demo_*``
table; a demo database has them all; a database of the release before the split (at c3a9e5f1b7d2)
loses them in production mode and keeps them, with the demo's rows, in demo mode.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, table, text

from bankfeeds.api_keys import service as api_keys
from bankfeeds.app import create_app
from bankfeeds.demo import seed as demo_seed
from bankfeeds.demo.clock import save_offset
from bankfeeds.kit import migrate
from bankfeeds.kit.clock import FrozenClock, OffsetClock
from bankfeeds.kit.db import Base, Database
from bankfeeds.models import DEMO_TABLES
from bankfeeds.sandbox import seed as sandbox_seed
from bankfeeds.xero_sandbox import seed as xero_seed
from tests.deploy.helpers import BANKFEEDS, empty_database, process_env
from tests.fixtures.app import NOW, make_settings

DEMO_PREFIXES = ("sandbox_", "xero_sandbox_", "demo_")
# The last head of the single chain, before the demo tables left it.
OLD_HEAD = "c3a9e5f1b7d2"
CUSTOMER = "Maple Street Bakery LLC"


def tables(url: str) -> set[str]:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        db.dispose()


def demo_tables_in(url: str) -> set[str]:
    return {t for t in tables(url) if t.startswith(DEMO_PREFIXES)}


def row_counts(url: str, names: set[str]) -> dict[str, int]:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return {n: conn.execute(select(func.count()).select_from(table(n))).scalar_one() for n in sorted(names)}
    finally:
        db.dispose()


def test_the_demo_tables_are_the_demo_surfaces_by_name() -> None:
    """DEMO_TABLES (what env.py leaves out of the hub's check) is every sandbox, Xero sandbox and demo table."""
    assert {t for t in Base.metadata.tables if t.startswith(DEMO_PREFIXES)} == DEMO_TABLES
    assert len(DEMO_TABLES) == 25
    # The hub's tables exist without the demo branch: none of them may reference a demo table.
    for name, hub_table in Base.metadata.tables.items():
        if name not in DEMO_TABLES:
            assert not {fk.column.table.name for fk in hub_table.foreign_keys} & DEMO_TABLES, name


def test_production_mode_migrates_the_hub_only(db_kind: str, tmp_path: Path) -> None:
    with empty_database(db_kind, tmp_path) as url:
        result = migrate.upgrade(url, demo=False)
        assert result.after == migrate.heads(demo=False)
        assert demo_tables_in(url) == set()
        hub_tables = set(Base.metadata.tables) - DEMO_TABLES
        assert hub_tables <= tables(url)
        migrate.check(url, demo=False)  # the hub's tables match the models: no drift
        assert migrate.status(url, demo=False).at_head
        # The same database is behind in demo mode: the demo branch is still to apply.
        behind = migrate.status(url, demo=True)
        assert not behind.at_head and "a7d3c1e90b5f" in behind.describe()
        with pytest.raises(Exception, match="migrate it to this release's heads first"):
            migrate.check(url, demo=True)

        # Switched to demo mode later: the demo branch creates the tables; both checks pass.
        assert migrate.upgrade(url, demo=True).migrated
        assert demo_tables_in(url) == DEMO_TABLES
        migrate.check(url, demo=True)
        migrate.check(url, demo=False)
        # Back in production mode: at head, nothing to do, nothing dropped (the branch is applied).
        assert not migrate.upgrade(url, demo=False).migrated
        assert migrate.status(url, demo=False).at_head
        assert demo_tables_in(url) == DEMO_TABLES


def test_the_production_check_reports_a_demo_table_left_behind(db_kind: str, tmp_path: Path) -> None:
    with empty_database(db_kind, tmp_path) as url:
        migrate.upgrade(url, demo=False)
        db = Database(url)
        try:
            with db.engine.begin() as conn:
                conn.execute(text("CREATE TABLE demo_clock (id INTEGER PRIMARY KEY)"))
        finally:
            db.dispose()
        with pytest.raises(Exception, match=r"remove_table.*demo_clock"):
            migrate.check(url, demo=False)


def test_demo_mode_migrates_both_heads(db_kind: str, tmp_path: Path) -> None:
    with empty_database(db_kind, tmp_path) as url:
        result = migrate.upgrade(url, demo=True)
        assert result.after == migrate.heads(demo=True)
        assert migrate.heads(demo=True) > migrate.heads(demo=False)
        assert set(Base.metadata.tables) <= tables(url)
        migrate.check(url, demo=True)
        assert migrate.status(url, demo=True).at_head and migrate.status(url, demo=False).at_head


def old_database_with_demo_rows(url: str) -> dict[str, int]:
    """A database migrated by the release before the split, with a hub API key and the demo's data."""
    migrate.upgrade(url, OLD_HEAD, demo=False)
    assert demo_tables_in(url) == DEMO_TABLES
    clock = FrozenClock(NOW)
    db = Database(url)
    try:
        with db.unit_of_work() as session:
            api_keys.create(session, clock, "bank-backend")
            sandbox_seed.seed(session, clock)
            demo_seed.seed(session, clock, CUSTOMER)
            xero_seed.seed(session, clock, [("demo-client", "demo-secret", ["http://testserver/cb"])])
        save_offset(db, timedelta(days=3))
    finally:
        db.dispose()
    counts = row_counts(url, set(DEMO_TABLES))
    assert sum(1 for n in counts.values() if n) >= 8, counts  # demo, sandbox and Xero sandbox rows
    return counts


def test_old_production_database_loses_the_demo_tables(db_kind: str, tmp_path: Path) -> None:
    with empty_database(db_kind, tmp_path) as url:
        old_database_with_demo_rows(url)
        result = migrate.upgrade(url, demo=False)
        assert result.before == {OLD_HEAD} and result.after == migrate.heads(demo=False)
        assert demo_tables_in(url) == set()
        assert row_counts(url, {"api_keys"}) == {"api_keys": 1}  # the hub's data stays
        migrate.check(url, demo=False)


def test_old_demo_database_keeps_its_demo_data(db_kind: str, tmp_path: Path) -> None:
    with empty_database(db_kind, tmp_path) as url:
        before = old_database_with_demo_rows(url)
        result = migrate.upgrade(url, demo=True)
        assert result.before == {OLD_HEAD} and result.after == migrate.heads(demo=True)
        assert row_counts(url, set(DEMO_TABLES)) == before
        assert row_counts(url, {"api_keys"}) == {"api_keys": 1}
        migrate.check(url, demo=True)
        # A later production-mode start (e.g. a CLI command without BANKFEEDS_DEMO) drops nothing.
        assert not migrate.upgrade(url, demo=False).migrated
        assert row_counts(url, set(DEMO_TABLES)) == before

        # The demo still works on it: its clock resumes where it was, its pages show its data.
        database = Database(url)
        try:
            app = create_app(make_settings(url, demo=True), database=database, run_worker=False)
            assert isinstance(app.state.clock, OffsetClock) and app.state.clock.offset == timedelta(days=3)
            client = TestClient(app, raise_server_exceptions=False)
            page = client.get("/demo/bank")
            assert page.status_code == 200 and "Maple Street Bakery" in page.text
            sandbox = client.get("/sandbox/qbo")
            assert sandbox.status_code == 200 and "Design and Landscaping" in sandbox.text
            assert client.get("/readyz").status_code == 200
        finally:
            database.dispose()


def test_readyz_agrees_with_the_mode(db_kind: str, tmp_path: Path) -> None:
    with empty_database(db_kind, tmp_path) as url:
        migrate.upgrade(url, demo=False)
        database = Database(url)
        try:
            production = TestClient(create_app(make_settings(url), database=database, run_worker=False))
            assert production.get("/readyz").status_code == 200
            demo = TestClient(create_app(make_settings(url, demo=True), database=database, run_worker=False,
                                         clock=FrozenClock(NOW)), raise_server_exceptions=False)
            r = demo.get("/readyz")
            assert r.status_code == 503 and "a7d3c1e90b5f" in r.json()["error"]
        finally:
            database.dispose()


@pytest.mark.parametrize("demo", [False, True])
def test_bankfeeds_db_upgrade_follows_the_mode(db_kind: str, tmp_path: Path, demo: bool) -> None:
    with empty_database(db_kind, tmp_path) as url:
        env = process_env(url, demo=str(demo).lower())
        done = subprocess.run([BANKFEEDS, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert demo_tables_in(url) == (DEMO_TABLES if demo else set())
        checked = subprocess.run([BANKFEEDS, "db", "check"], env=env, capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0 and "models and migrations agree" in checked.stdout, checked.stderr
        db = Database(url)
        try:
            with db.engine.connect() as conn:
                versions = sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        finally:
            db.dispose()
        assert versions == sorted(migrate.heads(demo=demo))
