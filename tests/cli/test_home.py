"""The CLI finds the server's database wherever it runs from, and a read-only command never invents one.

The server and every command keep the embedded database in one documented home: ``BANKFEEDS_HOME``,
by default the ``var/`` folder of the checkout bankfeeds runs from. These tests run the real
``bankfeeds serve`` and ``bankfeeds api-keys`` processes, from different folders.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.app import TEST_PROCESS_ENV, basic, free_port

ROOT = Path(__file__).resolve().parents[2]
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BANKFEEDS_DATABASE_URL", "BANKFEEDS_HOME")}
    return {**env, **TEST_PROCESS_ENV, **extra}


def bankfeeds(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bankfeeds", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`bankfeeds serve` started from the checkout, its database in a home of its own."""
    home = tmp_path / "home"
    port = free_port()
    env = clean_env(BANKFEEDS_HOME=str(home), BANKFEEDS_RUN_WORKER="false")
    proc = subprocess.Popen([sys.executable, "-m", "bankfeeds", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "bankfeeds serve did not start"
            time.sleep(0.2)
        yield url, home
    finally:
        proc.terminate()
        proc.wait(30)


def test_without_settings_every_folder_resolves_the_checkouts_database(tmp_path: Path) -> None:
    probe = "from bankfeeds.config import get_settings; print(get_settings().database_url)"
    seen = set()
    for cwd in (ROOT, ROOT / "src" / "bankfeeds", tmp_path):
        out = subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=clean_env(), capture_output=True,
                             text=True, timeout=60, check=True)
        seen.add(out.stdout.strip())
    assert seen == {f"sqlite:///{ROOT / 'var' / 'bankfeeds.sqlite3'}"}


def test_a_key_made_from_another_folder_works_on_the_server(server: tuple[str, Path], tmp_path: Path) -> None:
    url, home = server
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    env = clean_env(BANKFEEDS_HOME=str(home))
    created = bankfeeds(elsewhere, env, "api-keys", "create", "--name", "from-elsewhere")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert str(home / "bankfeeds.sqlite3") in created.stderr  # it says which database it used
    assert not (elsewhere / "var").exists()
    r = httpx.get(f"{url}/companies", headers={"Authorization": basic(key)}, timeout=60)
    assert r.status_code == 200, r.text

    listed = bankfeeds(elsewhere, env, "api-keys", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "from-elsewhere" in line)
    key_id = UUID.search(row)
    assert key_id and key_id.group(0) in created.stderr  # the whole id, ready to copy into `revoke`
    # "last used" is filled by the request above (recorded at most once a minute per key).
    assert re.search(r"from-elsewhere\s+\S+…\s+\S+\s+20\d\d-\d\d-\d\dT", row), row
    revoked = bankfeeds(elsewhere, env, "api-keys", "revoke", key_id.group(0))
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{url}/companies", headers={"Authorization": basic(key)}, timeout=60).status_code == 401


def test_read_only_commands_never_create_an_empty_database(tmp_path: Path) -> None:
    home = tmp_path / "nothing-here"
    env = clean_env(BANKFEEDS_HOME=str(home))
    for args in (("api-keys", "list"), ("webhooks", "list"), ("api-keys", "revoke", "0" * 8 + "-0000-0000-0000-" + "0" * 12)):
        run = bankfeeds(tmp_path, env, *args)
        assert run.returncode == 1, (args, run.stdout, run.stderr)
        assert f"there is no database at {home / 'bankfeeds.sqlite3'}" in run.stderr
        assert "BANKFEEDS_HOME" in run.stderr
    assert not home.exists()
