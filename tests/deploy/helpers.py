"""Empty (never migrated) databases and `bankfeeds` processes, for the deployment tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.fixtures.app import TEST_PROCESS_ENV
from tests.fixtures.database import create_pg_database, drop_pg_database

BANKFEEDS = str(Path(sys.executable).with_name("bankfeeds"))
SECRET_KEY = "deploy-test-secret"


@contextmanager
def empty_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A database nobody has migrated yet; dropped afterwards."""
    if kind == "postgresql":
        name = f"bankfeeds_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        url = create_pg_database(name)
        try:
            yield url
        finally:
            drop_pg_database(name)
    else:
        path = tmp_path / f"empty-{uuid.uuid4().hex[:8]}.sqlite3"
        path.touch()  # there, but never migrated (as an empty PostgreSQL database is)
        yield f"sqlite:///{path}"


def process_env(url: str, **settings: str) -> dict[str, str]:
    env = {**os.environ, **TEST_PROCESS_ENV, "BANKFEEDS_DATABASE_URL": url, "BANKFEEDS_SECRET_KEY": SECRET_KEY, "BANKFEEDS_WORKER_POLL_SECONDS": "0.5"}
    env.update({f"BANKFEEDS_{k.upper()}": v for k, v in settings.items()})
    return env


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen([BANKFEEDS, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for_line(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"exited ({proc.returncode}) before saying {text!r}: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    raise AssertionError(f"never said {text!r}: {log.read_text()[-2000:]}")


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Until /readyz answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server never ready: {log.read_text()[-2000:]}")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
