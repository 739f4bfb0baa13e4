"""Processes starting together migrate exactly once; told not to migrate, they wait for head or refuse."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bankfeeds.kit import migrate
from bankfeeds.kit.db import Database
from tests.deploy.helpers import empty_database, process_env, spawn, stop, wait_for_line, wait_ready
from tests.fixtures.app import free_port

pytestmark = pytest.mark.slow

MIGRATED = "migrated the database schema from empty to"
NOTHING_TO_DO = "nothing to migrate"


def schema_revisions(url: str) -> list[str]:
    database = Database(url)
    try:
        with database.engine.connect() as conn:
            return [str(v) for v in conn.scalars(text("SELECT version_num FROM alembic_version"))]
    finally:
        database.dispose()


def test_processes_starting_together_migrate_exactly_once(db_kind: str, tmp_path: Path) -> None:
    """Three `db upgrade` jobs, two `serve` and a `worker`, all started at once on a fresh database."""
    with empty_database(db_kind, tmp_path) as url:
        env = process_env(url, migrate_on_start="true", run_worker="false")
        procs: list[subprocess.Popen[bytes]] = []
        logs: list[Path] = []
        servers = []
        try:
            for i in range(3):
                logs.append(tmp_path / f"upgrade{i}.log")
                procs.append(spawn(["db", "upgrade"], env, logs[-1]))
            for i in range(2):
                port = free_port()
                logs.append(tmp_path / f"serve{i}.log")
                procs.append(spawn(["serve", "--port", str(port)], env, logs[-1]))
                servers.append((f"http://127.0.0.1:{port}", procs[-1], logs[-1]))
            logs.append(tmp_path / "worker.log")
            procs.append(spawn(["worker"], env, logs[-1]))

            for proc, log in zip(procs[:3], logs[:3], strict=True):
                assert proc.wait(120) == 0, log.read_text()
            for server_url, proc, log in servers:
                wait_ready(server_url, proc, log)
            wait_for_line(logs[-1], "database schema", procs[-1])
            assert procs[-1].poll() is None, logs[-1].read_text()

            said = [log.read_text() for log in logs]
            assert sum(MIGRATED in s for s in said) == 1, said
            assert sum(NOTHING_TO_DO in s for s in said) == len(said) - 1, said
            for s in said:
                assert "Traceback" not in s and "ERROR" not in s, s
            assert schema_revisions(url) == sorted(migrate.heads(demo=False))
        finally:
            stop(procs)


def test_serve_and_worker_wait_for_the_migration_job_then_start(db_kind: str, tmp_path: Path) -> None:
    with empty_database(db_kind, tmp_path) as url:
        env = process_env(url, migrate_on_start="false", migrate_wait_seconds="120", run_worker="false")
        procs: list[subprocess.Popen[bytes]] = []
        servers = []
        try:
            for i in range(2):
                port = free_port()
                log = tmp_path / f"serve{i}.log"
                procs.append(spawn(["serve", "--port", str(port)], env, log))
                servers.append((f"http://127.0.0.1:{port}", procs[-1], log))
            worker_log = tmp_path / "worker.log"
            procs.append(spawn(["worker"], env, worker_log))
            for _, proc, log in servers:
                wait_for_line(log, "waiting up to 120 s for `bankfeeds db upgrade`", proc)
                assert "never migrated" in log.read_text()
            wait_for_line(worker_log, "waiting up to 120 s for `bankfeeds db upgrade`", procs[-1])

            # While they wait, nothing has touched the schema and nobody serves.
            assert "alembic_version" not in _tables(url)
            for server_url, _, _ in servers:
                with pytest.raises(httpx.ConnectError):
                    httpx.get(server_url + "/healthz", timeout=2)

            job = subprocess.run([*_bankfeeds(), "db", "upgrade"], env=env, capture_output=True, text=True,
                                 timeout=120)
            assert job.returncode == 0, job.stderr
            assert MIGRATED in job.stdout

            for server_url, proc, log in servers:
                wait_ready(server_url, proc, log)
            wait_for_line(worker_log, ": starting", procs[-1])
            for _, _, log in servers:
                assert ": starting" in log.read_text()
                assert MIGRATED not in log.read_text() and NOTHING_TO_DO not in log.read_text()
        finally:
            stop(procs)


@pytest.mark.parametrize("command", [["worker"], ["api-keys", "create"], ["webhooks", "list"]])
def test_refuses_to_start_on_an_unmigrated_database(db_kind: str, tmp_path: Path, command: list[str]) -> None:
    with empty_database(db_kind, tmp_path) as url:
        env = process_env(url, migrate_on_start="false", migrate_wait_seconds="0")
        done = subprocess.run([*_bankfeeds(), *command], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert "Refusing to start: run `bankfeeds db upgrade` (the migration job) first" in done.stderr
        assert "never migrated" in done.stderr
        assert "Traceback" not in done.stderr
        assert "alembic_version" not in _tables(url)


def _bankfeeds() -> list[str]:
    from tests.deploy.helpers import BANKFEEDS

    return [BANKFEEDS]


def _tables(url: str) -> set[str]:
    from sqlalchemy import inspect

    database = Database(url)
    try:
        return set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()
