"""`make run` on a machine whose port 8000 (here: any port) is busy, by script, bounded, on 127.0.0.1.

Plain `make run` with the port taken says so first, before anything else is printed or installed;
`make run PORT=...` serves on the other port. The recipe runs with this test's interpreter as the
virtualenv and a fresh install stamp, so nothing is installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.app import free_port

ROOT = Path(__file__).resolve().parents[2]


def make_args(tmp_path: Path) -> list[str]:
    stamp = tmp_path / "installed"
    stamp.touch()  # newer than pyproject.toml: `install` has nothing to do
    return ["make", "--no-print-directory", "run", f"VENV={Path(sys.executable).parent.parent}", f"STAMP={stamp}"]


def env_for(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BANKFEEDS_DATABASE_URL", "PORT")}
    return {**env, "BANKFEEDS_HOME": str(tmp_path / "home"), "BANKFEEDS_ENVIRONMENT": "development"}


@pytest.fixture(autouse=True)
def _needs_make() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")


def test_a_busy_port_is_the_first_thing_said(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        run = subprocess.run([*make_args(tmp_path), f"PORT={port}"], cwd=ROOT, env=env_for(tmp_path),
                             capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert run.stdout == ""  # no banner, no URLs, no API key
    assert run.stderr.startswith(f"error: port {port} on 127.0.0.1 is busy"), run.stderr
    assert f"make run PORT={port + 1}" in run.stderr
    assert not (tmp_path / "home").exists()  # nothing was migrated either


def test_another_port_serves(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([*make_args(tmp_path), f"PORT={port}"], cwd=ROOT, env=env_for(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code
                if status == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert status == 200, f"make run PORT={port} did not serve the landing page"
        demo = httpx.get(f"http://127.0.0.1:{port}/demo/bank", timeout=10)
        assert demo.status_code == 200 and "Maple Street Bakery" in demo.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    first = out.splitlines()[0]
    assert first.startswith(f"bankfeeds on http://127.0.0.1:{port}"), out
    assert f"http://127.0.0.1:{port}/demo/bank" in out

    # make reset-demo: the demo's database goes; the next make run starts afresh.
    database = tmp_path / "home" / "bankfeeds.sqlite3"
    assert database.exists()
    args = [a if a != "run" else "reset-demo" for a in make_args(tmp_path)]
    reset = subprocess.run([*args, f"PORT={port}"], cwd=ROOT, env=env_for(tmp_path), capture_output=True, text=True,
                           timeout=120)
    assert reset.returncode == 0, reset.stderr
    assert f"Deleted {database}" in reset.stdout and not database.exists()
