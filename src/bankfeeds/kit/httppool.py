"""A lean asyncio HTTP/1.1 client for many small POSTs: keep-alive connections pooled per origin.

Made for webhook delivery, where a general client's per-request overhead (httpx on anyio: about
half of the worker's CPU per delivery) was the bottleneck. It sends one request and reads the
status, the headers and the first bytes of the answer; nothing else (no redirects, no proxies,
no cookies, no compression, no HTTP/2).

- The HTTP/1.1 protocol itself (framing the request; reading the status line, headers, chunked,
  length- or close-delimited bodies, interim 1xx answers; keep-alive rules) is ``h11``'s, one
  ``h11.Connection`` per connection: answers come from arbitrary, possibly hostile endpoints, so
  none of that is parsed here. Anything h11 refuses is a ``ProtocolError`` and the connection is
  closed. Headers are bounded by h11's ``max_incomplete_event_size`` (``MAX_HEAD``).
- Connections are kept alive and pooled per origin (scheme, host, port); an idle one is reused
  for the same origin only, within ``keepalive_seconds``, only if h11 left both sides idle for a
  new cycle and the server has neither closed it nor sent anything unasked. A request on a
  reused connection that fails before any byte of the answer arrived (the server closed it
  meanwhile) is sent once more on a fresh connection.
- Every new connection goes through ``netguard``: the host is resolved, every address checked
  (unless ``allow_private``), and the connection made to a checked address. A pooled connection
  stays bound to the address checked when it was opened, so reuse never reaches another one.
- The answer is read to its end when it is short (so the connection can be reused); a longer
  one is cut after ``keep_bytes`` (or ``DRAIN_LIMIT`` bytes read) and its connection closed.
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

import h11

from bankfeeds.kit import netguard

# Status line and headers of an answer: h11's max_incomplete_event_size. h11 checks it while the
# headers are incomplete, so with reads of READ_SIZE they are cut at MAX_HEAD + READ_SIZE at most.
MAX_HEAD = 64 * 1024
READ_SIZE = 16 * 1024
DRAIN_LIMIT = 64 * 1024  # an answer body up to this size is read to its end (keeps the connection)


class ConnectError(Exception):
    """No connection could be made (refused, unresolvable, or a non-public address)."""


class ProtocolError(Exception):
    """The answer is not HTTP/1.1 as h11 reads it, or the connection broke during it."""


@dataclass
class Answer:
    status_code: int
    head: bytes  # the first bytes of the body
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)  # lower-case names, as received

    def header(self, name: str) -> str | None:
        """The first value of a header (``name`` in lower case), or None."""
        key = name.encode("ascii")
        for k, v in self.headers:
            if k == key:
                return v.decode("latin-1")
        return None


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    http: h11.Connection
    idle_since: float = 0.0

    def usable(self) -> bool:
        return (self.http.our_state is h11.IDLE and self.http.their_state is h11.IDLE
                and not self.reader.at_eof() and not self.writer.is_closing()
                and not self.reader._buffer)  # type: ignore[attr-defined]

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
                )
                return _Connection(reader, writer, h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD))
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
        fields = [("host", host), ("user-agent", self.user_agent), ("content-length", str(len(body))),
                  *headers.items()]
        try:
            request = h11.Request(method="POST", target=target, headers=fields)
        except h11.LocalProtocolError as exc:
            raise ProtocolError(f"cannot send this request: {exc}") from None
        conn = self._idle(origin)
        if conn is not None:
            try:
                return await self._exchange(origin, conn, request, body, keep_bytes)
            except _Stale:
                pass  # the server closed the kept-alive connection first: once more, on a new one
        conn = await self._connect(origin)
        try:
            return await self._exchange(origin, conn, request, body, keep_bytes)
        except _Stale as exc:
            raise ProtocolError(str(exc)) from None

    async def _exchange(
        self, origin: _Origin, conn: _Connection, request: h11.Request, body: bytes, keep_bytes: int
    ) -> Answer:
        http = conn.http
        reusable = False
        received = False  # any byte of an answer: after that, a failure is no longer "stale"

        async def next_event() -> object:  # an h11 event, or its PAUSED sentinel
            nonlocal received
            while True:
                event = http.next_event()
                if event is not h11.NEED_DATA:
                    return event
                try:
                    data = await conn.reader.read(READ_SIZE)
                except ConnectionError as exc:
                    if not received:
                        raise _Stale(f"{type(exc).__name__}: {exc}") from None
                    raise ProtocolError(f"the connection broke during the answer ({type(exc).__name__})") from None
                if not data and not received:
                    raise _Stale("the server closed the connection without an answer")
                received = True
                http.receive_data(data)  # b"": the server closed its side (h11 decides what that means)

        try:
            try:
                conn.writer.write(http.send(request) + http.send(h11.Data(data=body)) + http.send(h11.EndOfMessage()))
                await conn.writer.drain()
            except ConnectionError as exc:
                raise _Stale(f"{type(exc).__name__}: {exc}") from None
            event = await next_event()
            while isinstance(event, h11.InformationalResponse):  # 100 Continue...: the real one follows
                event = await next_event()
            if not isinstance(event, h11.Response):
                raise ProtocolError(f"no answer from the server ({type(event).__name__})")
            out = bytearray()
            total = 0
            framed = any(name in (b"content-length", b"transfer-encoding") for name, _ in event.headers)
            while True:
                part = await next_event()
                if isinstance(part, h11.Data):
                    total += len(part.data)
                    if len(out) < keep_bytes:
                        out += part.data[:keep_bytes - len(out)]
                    if total > DRAIN_LIMIT or (not framed and len(out) >= keep_bytes):
                        break  # too long to drain, or close-delimited: the connection goes
                elif isinstance(part, h11.EndOfMessage):
                    if http.our_state is h11.DONE and http.their_state is h11.DONE and not http.trailing_data[0]:
                        http.start_next_cycle()
                        reusable = True
                    break
                else:  # ConnectionClosed or PAUSED where a body belongs
                    raise ProtocolError(f"the answer ended before its body did ({type(part).__name__})")
            return Answer(event.status_code, bytes(out), list(event.headers))
        except h11.RemoteProtocolError as exc:
            raise ProtocolError(f"a malformed answer: {exc}") from None
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
