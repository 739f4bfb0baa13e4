"""kit.httppool: the lean HTTP/1.1 client of webhook delivery, against real sockets on 127.0.0.1.

Each test runs a small asyncio server that answers with scripted bytes, so the odd shapes of
HTTP/1.1 answers (chunked, close-delimited, interim 1xx, no body, a server closing kept-alive
connections) are exercised on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bankfeeds.kit.httppool import ConnectError, HttpPool, ProtocolError

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class Server:
    """Answers every request with ``answer`` (or the n-th request with ``answers[n]``, the last one
    for the rest); counts connections; may close after each answer."""

    def __init__(self, answer: bytes, *, close_after: bool = False, answers: list[bytes] | None = None) -> None:
        self.answer = answer
        self.answers = answers or [answer]
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answers[min(len(self.requests), len(self.answers)) - 1])
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def run(server: Server, body: Callable[[str, HttpPool], Awaitable[None]], *, allow_private: bool = True) -> None:
    async def main() -> None:
        srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        pool = HttpPool(allow_private=allow_private, user_agent="test")
        try:
            await body(f"http://127.0.0.1:{port}/hook?x=1", pool)
        finally:
            await pool.close()
            await asyncio.sleep(0.05)  # the server's handlers see their connections end
            srv.close()
            await srv.wait_closed()

    asyncio.run(main())


def test_keep_alive_reuses_one_connection_and_sends_the_request_as_given() -> None:
    server = Server(OK)

    async def body(url: str, pool: HttpPool) -> None:
        for i in range(5):
            answer = await pool.post(url, b'{"n":%d}' % i, {"webhook-id": f"msg_{i}"}, keep_bytes=1024)
            assert (answer.status_code, answer.head) == (200, b"ok")

    run(server, body)
    assert server.connections == 1 and len(server.requests) == 5
    first = server.requests[0]
    assert first.startswith(b"POST /hook?x=1 HTTP/1.1\r\n")
    assert b"\r\nwebhook-id: msg_0\r\n" in first and b"\r\ncontent-length: 7\r\n" in first
    assert first.endswith(b'\r\n\r\n{"n":0}')


def test_chunked_answers_are_read_to_their_end_and_the_connection_kept() -> None:
    server = Server(b"HTTP/1.1 202 Accepted\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")

    async def body(url: str, pool: HttpPool) -> None:
        for _ in range(2):
            answer = await pool.post(url, b"{}", {}, keep_bytes=1024)
            assert (answer.status_code, answer.head) == (202, b"abcde")

    run(server, body)
    assert server.connections == 1


def test_a_close_delimited_answer_and_a_server_that_closes_each_connection() -> None:
    server = Server(b"HTTP/1.1 500 Oops\r\n\r\nsomething broke", close_after=True)

    async def body(url: str, pool: HttpPool) -> None:
        for _ in range(3):
            answer = await pool.post(url, b"{}", {}, keep_bytes=1024)
            assert (answer.status_code, answer.head) == (500, b"something broke")

    run(server, body)
    assert server.connections == 3


def test_a_kept_alive_connection_the_server_closed_is_replaced_once() -> None:
    """The server answers with a length (so the connection looks reusable) and then closes it."""
    server = Server(OK, close_after=True)

    async def body(url: str, pool: HttpPool) -> None:
        for i in range(4):
            assert (await pool.post(url, b"{}", {}, keep_bytes=1024)).status_code == 200
            # The close reaches us before the next request (the connection is seen closed), or
            # not (the request fails with nothing back and is sent once more): both must work.
            await asyncio.sleep(0.05 if i % 2 else 0)

    run(server, body)
    assert server.connections == 4 and len(server.requests) == 4


def test_no_body_interim_answers_and_long_bodies() -> None:
    server = Server(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")

    async def no_body(url: str, pool: HttpPool) -> None:
        for _ in range(2):
            answer = await pool.post(url, b"{}", {}, keep_bytes=1024)
            assert (answer.status_code, answer.head) == (204, b"")

    run(server, no_body)
    assert server.connections == 1
    long = b"x" * 5000
    server = Server(b"HTTP/1.1 400 Bad\r\ncontent-length: 5000\r\n\r\n" + long)

    async def long_body(url: str, pool: HttpPool) -> None:
        for _ in range(2):
            answer = await pool.post(url, b"{}", {}, keep_bytes=1024)
            assert (answer.status_code, answer.head) == (400, long[:1024])

    run(server, long_body)
    assert server.connections == 1  # read to its end, so the connection stays usable


@pytest.mark.parametrize("answer", [b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"])
def test_broken_answers_are_protocol_errors(answer: bytes) -> None:
    server = Server(answer, close_after=True)

    async def body(url: str, pool: HttpPool) -> None:
        with pytest.raises(ProtocolError):
            await pool.post(url, b"{}", {}, keep_bytes=1024)

    run(server, body)


HOSTILE = {
    "malformed status line": (b"HTTP/1.1 OK 200\r\ncontent-length: 2\r\n\r\nok", "malformed answer"),
    "not HTTP at all": (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "malformed answer"),
    "oversized headers": (b"HTTP/1.1 200 OK\r\n" + b"x-junk: " + b"a" * 200_000 + b"\r\n\r\n", "malformed answer"),
    "two different lengths": (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok",
                              "malformed answer"),
    "a header line with no colon": (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed answer"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_answers_are_clear_errors_and_their_connection_is_not_reused(name: str) -> None:
    """The server keeps the connection open after a broken answer: we must not take it again."""
    hostile, message = HOSTILE[name]
    server = Server(OK, answers=[hostile, OK])

    async def body(url: str, pool: HttpPool) -> None:
        with pytest.raises(ProtocolError, match=message):
            await pool.post(url, b"{}", {}, keep_bytes=1024)
        answer = await pool.post(url, b"{}", {}, keep_bytes=1024)
        assert (answer.status_code, answer.head) == (200, b"ok")

    run(server, body)
    assert server.connections == 2 and len(server.requests) == 2


def test_a_connection_closed_mid_body_is_an_error() -> None:
    server = Server(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly a part", close_after=True)

    async def body(url: str, pool: HttpPool) -> None:
        with pytest.raises(ProtocolError, match="malformed answer: peer closed connection without sending complete"):
            await pool.post(url, b"{}", {}, keep_bytes=1024)

    run(server, body)


def test_a_content_length_that_promises_more_than_comes_is_abandoned_on_timeout() -> None:
    """The body never ends (the server keeps the connection open): the caller's timeout ends the
    exchange and that connection is closed, not pooled with half an answer in it."""
    server = Server(OK, answers=[b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly a part", OK])

    async def body(url: str, pool: HttpPool) -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await pool.post(url, b"{}", {}, keep_bytes=1024)
        answer = await pool.post(url, b"{}", {}, keep_bytes=1024)
        assert (answer.status_code, answer.head) == (200, b"ok")

    run(server, body)
    assert server.connections == 2


def test_bytes_beyond_the_declared_length_are_not_read_as_the_next_answer() -> None:
    """A Content-Length shorter than what is sent, the rest a forged answer: the connection is
    dropped, so the next request gets its own answer, not the smuggled one."""
    smuggled = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 500 Forged\r\ncontent-length: 0\r\n\r\n"
    server = Server(OK, answers=[smuggled, b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n"])

    async def body(url: str, pool: HttpPool) -> None:
        assert (await pool.post(url, b"{}", {}, keep_bytes=1024)).status_code == 200
        assert (await pool.post(url, b"{}", {}, keep_bytes=1024)).status_code == 201

    run(server, body)
    assert server.connections == 2


def test_the_answers_headers_are_readable() -> None:
    server = Server(b"HTTP/1.1 429 Too Many\r\nRetry-After: 120\r\ncontent-length: 0\r\n\r\n")

    async def body(url: str, pool: HttpPool) -> None:
        answer = await pool.post(url, b"{}", {}, keep_bytes=1024)
        assert (answer.status_code, answer.header("retry-after"), answer.header("x-none")) == (429, "120", None)

    run(server, body)


def test_non_public_addresses_are_refused_after_resolution() -> None:
    server = Server(OK)

    async def body(url: str, pool: HttpPool) -> None:
        for target in (url, url.replace("127.0.0.1", "localhost")):
            with pytest.raises(ConnectError, match="not a public address"):
                await pool.post(target, b"{}", {}, keep_bytes=1024)

    run(server, body, allow_private=False)
    assert server.connections == 0
