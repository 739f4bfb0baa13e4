"""How `bankfeeds serve` runs uvicorn so that slow or idle clients cannot take the server down.

* Request headers must arrive whole within ``header_timeout`` seconds of the connection opening
  (or of the previous response): a client that trickles them (slowloris) is disconnected.
  uvicorn has no such timeout of its own (its keep-alive timer restarts on every byte).
* Headers are bounded in size (``h11_max_incomplete_event_size``), idle keep-alive connections
  close after ``timeout_keep_alive``.
* The event loop is uvloop's.
* Connections are capped below the process's open-file limit (raised to its hard limit first):
  beyond the cap a request is answered 503 at once instead of the process running out of file
  descriptors and accepting no one.
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# File descriptors kept for the database pool, lock files, logs and the worker.
RESERVED_FDS = 128
MAX_HEADER_BYTES = 32 * 1024
KEEP_ALIVE_SECONDS = 5


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers.

    The deadline is read from ``BANKFEEDS_HEADER_TIMEOUT_SECONDS`` (the process's settings), so the
    class itself is plain and importable: ``serve --workers N`` hands it to each worker process.
    """

    @property
    def header_timeout(self) -> float:
        from bankfeeds.config import get_settings

        return float(get_settings().header_timeout_seconds)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self._cancel_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_deadline(self) -> None:
        handle = getattr(self, "_header_deadline", None)
        if handle is not None:
            handle.cancel()
            self._header_deadline = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._cancel_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()  # the next request's headers get the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one; returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return int(soft) if soft != resource.RLIM_INFINITY else 65536


def uvicorn_options(*, max_connections: int | None) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` (see the module)."""
    fds = raise_open_file_limit()
    cap = max_connections if max_connections is not None else max(32, fds - RESERVED_FDS)
    return {
        # uvloop (libuv, in C): a push on PostgreSQL waits for the database five times, each a
        # reader callback of the loop; asyncio's own loop spent ~10% of the push's CPU on them.
        "loop": "uvloop",
        "http": HeaderTimeoutProtocol,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "limit_concurrency": cap,
        # The app reads forwarded headers itself, only from BANKFEEDS_FORWARDED_ALLOW_IPS
        # (uvicorn's own default trusts any client on 127.0.0.1).
        "proxy_headers": False,
    }
