"""psycopg's async connection, waiting on the event loop for a transaction's answers at less cost.

psycopg's own ``AsyncConnection.wait`` asks the loop to watch the connection's socket afresh for
every answer it waits for, and to stop watching once it came: on uvloop that is a watcher made
and closed each time (seven system calls: ``epoll_ctl`` six times and an ``ioctl``), plus a timer,
four times for a small push (BEGIN, its two statements, COMMIT): 53 system calls a push in
``bankfeeds serve``, 32 with this (``strace -c``). Here the watch is kept from the first answer of a
transaction to its end (the connection idle again, or closed): one made and closed per
transaction; ~5% of a small push's CPU (``bench push`` on PostgreSQL).

What is kept from psycopg's wait, and what differs:

* A watch is kept only while the connection is in a transaction, so a connection resting in the
  pool is not watched; if the socket becomes readable while nobody waits (the server closed the
  connection), the watch is dropped at once (the loop would otherwise call it again and again).
* A wait with a timeout, or in pipeline mode, is psycopg's own (the watch dropped first: two
  watches of one socket would replace each other).
* A wait interrupted (the task cancelled) while a statement runs closes the connection (psycopg
  would ask the server to cancel the statement and read what it answers); the pool then replaces
  it. The server rolls back what the connection had begun.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg import errors
from psycopg.abc import RV, PQGen
from psycopg.pq import TransactionStatus
from psycopg.waiting import READY_R, READY_W, WAIT_W, Ready

_IDLE = TransactionStatus.IDLE
_ACTIVE = TransactionStatus.ACTIVE


def _resolve(waiter: asyncio.Future[Ready], ready: Ready) -> None:
    if not waiter.done():
        waiter.set_result(ready)


class _Watch:
    """The loop's reader on one connection's socket, resolving whoever waits on it."""

    __slots__ = ("connection", "fd", "live", "loop", "waiter")

    def __init__(self, connection: PgConnection, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        # The connection is referenced while it is watched: it is not collected (its socket closed)
        # behind the loop's back.
        self.connection = connection
        self.loop = loop
        self.fd = fd
        self.waiter: asyncio.Future[Ready] | None = None
        self.live = True

    def arm(self, waiter: asyncio.Future[Ready]) -> None:
        """Resolve ``waiter`` when the socket is readable. The reader is given again at each wait:
        no system call while the loop still watches the socket (uvloop: the same watcher, its
        callback replaced; asyncio: a ``modify``), and a new watcher where the loop dropped its own
        (uvloop closes it after an error on the socket, a reset connection, and refuses it then)."""
        self.waiter = waiter
        try:
            self.loop.add_reader(self.fd, self._readable)
        except RuntimeError:
            self.loop.remove_reader(self.fd)
            self.loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        waiter = self.waiter
        if waiter is None:
            self.stop()  # nobody waits: level-triggered, the loop would call again at once
        elif not waiter.done():
            waiter.set_result(READY_R)

    def stop(self) -> None:
        if self.live:
            self.live = False
            if not self.loop.is_closed():
                self.loop.remove_reader(self.fd)
            if self.connection._watch is self:
                self.connection._watch = None


class PgConnection(psycopg.AsyncConnection[Any]):
    """``psycopg.AsyncConnection`` with the cheaper wait of the module docstring."""

    _watch: _Watch | None = None

    async def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        if timeout is not None or self._pipeline is not None:
            self._stop_watching()
            return await super().wait(gen, interval, timeout)
        try:
            return await self._wait_watching(gen)
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            self._stop_watching()
            if self.pgconn.transaction_status == _ACTIVE:
                self.pgconn.finish()  # a statement half answered: the connection is not reusable
            raise
        except BaseException:
            self._stop_watching()
            raise

    async def _wait_watching(self, gen: PQGen[RV]) -> RV:
        loop = asyncio.get_running_loop()
        try:
            wanted = next(gen)
            while True:
                waiter: asyncio.Future[Ready] = loop.create_future()
                if wanted == WAIT_W:
                    # Only writing (a COPY's data the socket did not take): a writer for this step;
                    # a watch for reading would call again and again if an answer waited unread.
                    self._stop_watching()
                    fd = self.pgconn.socket
                    loop.add_writer(fd, _resolve, waiter, READY_W)
                    try:
                        ready = await waiter
                    finally:
                        loop.remove_writer(fd)
                    wanted = gen.send(ready)
                    continue
                watch = self._watch
                if watch is None or watch.loop is not loop:
                    self._stop_watching()
                    watch = self._watch = _Watch(self, loop, self.pgconn.socket)
                watch.arm(waiter)
                writing = bool(wanted & WAIT_W)
                if writing:  # a statement the socket did not take at once: a writer for this step too
                    loop.add_writer(watch.fd, _resolve, waiter, READY_W)
                try:
                    ready = await waiter
                finally:
                    watch.waiter = None
                    if writing:
                        loop.remove_writer(watch.fd)
                wanted = gen.send(ready)
        except StopIteration as done:
            if self.pgconn.transaction_status == _IDLE:
                self._stop_watching()  # the transaction ended: a connection at rest is not watched
            result: RV = done.value
            return result
        except OSError as err:
            raise errors.OperationalError("connection socket closed") from err

    def _stop_watching(self) -> None:
        if self._watch is not None:
            self._watch.stop()

    async def close(self) -> None:
        self._stop_watching()  # before the socket closes: the loop must not watch a closed descriptor
        await super().close()
