"""A lean asyncio HTTP/1.1 client for many small POSTs: keep-alive connections pooled per origin.

Made for webhook delivery, where a general client's per-request overhead (httpx on anyio: about
half of the worker's CPU per delivery) was the bottleneck. It sends one request and reads the
status and the first bytes of the answer; nothing else (no redirects, no proxies, no cookies,
no compression, no HTTP/2).

- Connections are kept alive and pooled per origin (scheme, host, port); an idle one is reused
  for the same origin only, within ``keepalive_seconds``, and only if the server has not closed
  it. A request on a reused connection that fails before any byte of the answer arrived (the
  server closed it meanwhile) is sent once more on a fresh connection.
- Every new connection goes through ``netguard``: the host is resolved, every address checked
  (unless ``allow_private``), and the connection made to a checked address. A pooled connection
  stays bound to the address checked when it was opened, so reuse never reaches another one.
- The answer is read to its end when it is short (so the connection can be reused); a longer
  one is cut after ``keep_bytes`` and its connection closed.
- The caller bounds the whole exchange in time (``asyncio.timeout``): a connection left in an
  unknown state by a cancellation is closed, never reused.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bankfeeds.kit import netguard

MAX_HEAD = 64 * 1024  # status line and headers of an answer
DRAIN_LIMIT = 64 * 1024  # an answer body up to this size is read to its end (keeps the connection)


class ConnectError(Exception):
    """No connection could be made (refused, unresolvable, or a non-public address)."""


class ProtocolError(Exception):
    """The answer is not HTTP/1.x as we can read it, or the connection broke during it."""


@dataclass
class Answer:
    status_code: int
    head: bytes  # the first bytes of the body


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing() and not self.reader._buffer  # type: ignore[attr-defined]

    def close(self) -> None:
        self.writer.close()


@dataclass
class _Origin:
    scheme: str
    host: str
    port: int
    idle: list[_Connection] = field(default_factory=list)


class HttpPool:
    """One per event loop; ``close()`` when done."""

    def __init__(
        self, *, allow_private: bool, user_agent: str, keepalive_seconds: float = 4.0, max_idle_per_origin: int = 32
    ) -> None:
        self.allow_private = allow_private
        self.user_agent = user_agent
        self.keepalive_seconds = keepalive_seconds
        self.max_idle = max_idle_per_origin
        self._origins: dict[tuple[str, str, int], _Origin] = {}
        self._ssl: ssl.SSLContext | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            try:
                import certifi

                self._ssl = ssl.create_default_context(cafile=certifi.where())
            except ImportError:  # pragma: no cover - certifi comes with httpx
                self._ssl = ssl.create_default_context()
        return self._ssl

    async def _connect(self, origin: _Origin) -> _Connection:
        literal = netguard._literal(origin.host)
        try:
            addresses = [literal] if literal is not None else await asyncio.get_running_loop().run_in_executor(
                None, netguard.resolve, origin.host, origin.port)
        except OSError as exc:
            raise ConnectError(str(exc)) from None
        if not self.allow_private:
            try:
                netguard.check_addresses(origin.host, addresses)
            except netguard.TargetRefused as exc:
                raise ConnectError(f"refused: {exc}") from None
        tls = self._ssl_context() if origin.scheme == "https" else None
        last: Exception | None = None
        for address in addresses:
            try:
                reader, writer = await asyncio.open_connection(
                    str(address), origin.port, ssl=tls, server_hostname=origin.host if tls else None,
                    limit=MAX_HEAD,
                )
                return _Connection(reader, writer)
            except OSError as exc:  # refused, unreachable, TLS failure (ssl.SSLError is an OSError)
                last = exc
        raise ConnectError(f"cannot connect to {origin.host}:{origin.port}: {last}")

    def _idle(self, origin: _Origin) -> _Connection | None:
        now = time.monotonic()
        while origin.idle:
            conn = origin.idle.pop()
            if now - conn.idle_since < self.keepalive_seconds and conn.usable():
                return conn
            conn.close()
        return None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], *, keep_bytes: int) -> Answer:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ProtocolError(f"not an absolute http(s) URL: {url[:100]}")
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, parts.hostname, port)
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin(scheme, parts.hostname, port)
        host = parts.netloc.rpartition("@")[2]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {target} HTTP/1.1", f"host: {host}", f"user-agent: {self.user_agent}",
                 f"content-length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        conn = self._idle(origin)
        if conn is not None:
            try:
                return await self._exchange(origin, conn, request, keep_bytes)
            except _Stale:
                pass  # the server closed the kept-alive connection first: once more, on a new one
        conn = await self._connect(origin)
        try:
            return await self._exchange(origin, conn, request, keep_bytes)
        except _Stale as exc:
            raise ProtocolError(str(exc)) from None

    async def _exchange(self, origin: _Origin, conn: _Connection, request: bytes, keep_bytes: int) -> Answer:
        reusable = False
        try:
            try:
                conn.writer.write(request)
                await conn.writer.drain()
                head = await conn.reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    raise _Stale("the server closed the connection without an answer") from None
                raise ProtocolError("the answer was cut short") from None
            except (ConnectionError, BrokenPipeError) as exc:
                raise _Stale(f"{type(exc).__name__}: {exc}") from None
            except asyncio.LimitOverrunError:
                raise ProtocolError(f"the answer's headers exceed {MAX_HEAD} bytes") from None
            status, headers, http10 = _parse_head(head)
            while 100 <= status < 200:  # interim answers (100 Continue...): the real one follows
                head = await conn.reader.readuntil(b"\r\n\r\n")
                status, headers, http10 = _parse_head(head)
            if status in (204, 304):
                body, complete = b"", True  # no body, whatever the headers say
            else:
                body, complete = await _read_body(conn.reader, headers, keep_bytes)
            connection = headers.get("connection", "").lower()
            reusable = complete and not http10 and "close" not in connection
            return Answer(status, body[:keep_bytes])
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ProtocolError(f"the connection broke during the answer ({type(exc).__name__})") from None
        finally:
            if reusable and len(origin.idle) < self.max_idle:
                conn.idle_since = time.monotonic()
                origin.idle.append(conn)
            else:
                conn.close()

    async def close(self) -> None:
        for origin in self._origins.values():
            for conn in origin.idle:
                conn.close()
            origin.idle.clear()
        self._origins.clear()


class _Stale(Exception):
    """Nothing came back on the connection: it may have been closed by the server while idle."""


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return int(code), headers, version == "HTTP/1.0" and "keep-alive" not in headers.get("connection", "").lower()


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str], keep: int) -> tuple[bytes, bool]:
    """The body's first bytes, and whether it was read to its end (the connection stays usable)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = bytearray()
        total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError("a malformed chunk size") from None
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return bytes(out), True
            total += size
            if total > DRAIN_LIMIT:
                if len(out) < keep:
                    out += await reader.read(keep - len(out))
                return bytes(out[:keep]), False
            chunk = await reader.readexactly(size + 2)
            if len(out) < keep:
                out += chunk[:size]
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise ProtocolError("a malformed content-length") from None
        if length <= DRAIN_LIMIT:
            return (await reader.readexactly(length))[:keep], True
        return await reader.readexactly(keep), False
    # No length: the body ends when the server closes the connection; read what we keep.
    rest = bytearray()
    while len(rest) < keep:
        data = await reader.read(keep - len(rest))
        if not data:
            break
        rest += data
    return bytes(rest), False
