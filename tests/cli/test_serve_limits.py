"""`bankfeeds serve` bounds slow clients (issue 9, item 8): a flood of connections that never
finish their headers (slowloris), more than the process has file descriptors for, is cut off
after the header timeout (those beyond its file descriptors at once), and other clients are served
again within seconds.

The server runs with a 256 open-file limit and a 1 s header timeout; 400 partial-header
connections are opened at once. The test prints the measured outage (time from the flood to the
first answered /healthz); without the timeout the server would be unreachable for as long as the
connections stay open.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fixtures.app import TEST_PROCESS_ENV, free_port

BANKFEEDS = str(Path(sys.executable).with_name("bankfeeds"))
SLOW_CLIENTS = 400
FD_LIMIT = 256


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def _healthy(url: str) -> bool:
    try:
        with httpx.Client(timeout=2) as c:
            return c.get(url + "/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def test_slow_header_flood_is_cut_off_and_others_are_served(process_db: str, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **TEST_PROCESS_ENV, "BANKFEEDS_DATABASE_URL": process_db,
           "BANKFEEDS_SECRET_KEY": "serve-limits-secret", "BANKFEEDS_IDX_PARTNER_KEY": "serve-limits-partner",
           "BANKFEEDS_RUN_WORKER": "false", "BANKFEEDS_HEADER_TIMEOUT_SECONDS": "1"}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([BANKFEEDS, "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, preexec_fn=_limit_fds)
    slow: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        # The serving process froze its start-up heap (kit/heap.py: no 150 ms full collections).
        assert "start-up heap frozen" in (tmp_path / "serve.log").read_text()
        flood_at = time.monotonic()
        for _ in range(SLOW_CLIENTS):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the end of the headers
            slow.append(s)
        served_at = None
        checks = 0
        while time.monotonic() < flood_at + 30:
            checks += 1
            if _healthy(url):
                served_at = time.monotonic()
                break
            time.sleep(0.1)
        assert served_at is not None, "no client was served within 30 s of the flood"
        # The server hung up on every slow client (it did not just outlast them): after the header
        # timeout (a clean close), or at once, those it had no file descriptor for (uvloop, out of
        # them, accepts and drops what waits: a reset).
        closed = reset = 0
        for s in slow:
            s.settimeout(10)
            try:
                closed += s.recv(1) == b""
            except ConnectionResetError:
                reset += 1
            except (TimeoutError, OSError):
                pass
        print(f"slowloris: {SLOW_CLIENTS} connections, fd limit {FD_LIMIT}: first answer "
              f"{served_at - flood_at:.2f} s after the flood ({checks} checks); {closed} cut off by the server "
              f"after the header timeout, {reset} reset at once")
        assert closed + reset == SLOW_CLIENTS
        assert closed >= FD_LIMIT // 2  # the timeout did its part: the connections it held were closed
        assert _healthy(url)
    finally:
        for s in slow:
            s.close()
        proc.terminate()
        proc.wait(10)
        log.close()
