"""/healthz answers while the process lives; /readyz only when the database answers and is at head."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from bankfeeds.app import create_app
from bankfeeds.kit import migrate
from bankfeeds.kit.db import Database
from tests.deploy.helpers import empty_database
from tests.fixtures.app import make_settings


def probe_client(url: str) -> TestClient:
    database = Database(url)
    return TestClient(create_app(make_settings(url), database=database, run_worker=False),
                      raise_server_exceptions=False)


def assert_not_ready(body: dict[str, object], words: str) -> None:
    # The public API's error envelope.
    assert body["statusCode"] == 503
    assert body["service"] == "PublicApi"
    assert body["canBeRetried"] == "True"
    assert isinstance(body["correlationId"], str) and body["correlationId"]
    assert words in str(body["error"]), body["error"]


@pytest.mark.committed_database  # /readyz reads the database on a connection of its own
def test_ready_on_a_migrated_database(anon_client: TestClient) -> None:
    assert anon_client.get("/healthz").json() == {"status": "ok"}
    r = anon_client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_pending_migration_is_not_ready_until_upgraded(db_kind: str, tmp_path: Path) -> None:
    with empty_database(db_kind, tmp_path) as url, probe_client(url) as client:
        assert client.get("/healthz").status_code == 200
        r = client.get("/readyz")
        assert r.status_code == 503
        assert_not_ready(r.json(), "never migrated")
        assert "bankfeeds db upgrade" in r.json()["error"]

        migrate.upgrade(url, demo=False)
        assert client.get("/readyz").status_code == 200

        # Stamped back behind this release (as after restoring an old backup): not ready again.
        engine = Database(url).engine
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM alembic_version"))
        r = client.get("/readyz")
        assert r.status_code == 503
        assert_not_ready(r.json(), "this release needs " + ", ".join(sorted(migrate.heads(demo=False))))
        # Migrated by a newer release (a rolling upgrade under way): still ready, old pods keep serving.
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('ffffffffffff')"))
        assert client.get("/readyz").status_code == 200
        engine.dispose()


def test_database_down_is_not_ready_but_alive(db_kind: str, tmp_path: Path) -> None:
    if db_kind == "postgresql":
        # Nothing listens on port 1: the connection is refused.
        url = f"postgresql://postgres@127.0.0.1:1/bankfeeds_{uuid.uuid4().hex[:8]}?connect_timeout=2"
    else:
        # A directory where the database file should be: SQLite cannot open it.
        (tmp_path / "not-a-file.sqlite3").mkdir()
        url = f"sqlite:///{tmp_path / 'not-a-file.sqlite3'}"
    with probe_client(url) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        r = client.get("/readyz")
        assert r.status_code == 503
        assert_not_ready(r.json(), "the database is unreachable")
        assert "127.0.0.1" not in r.json()["error"] and "postgres" not in r.json()["error"]
