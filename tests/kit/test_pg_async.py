"""kit.pg_async on PostgreSQL: the async connection keeps one watch of its socket for a whole
transaction and none while it rests; answers come right (a statement too big for one send
included); a server that ends the connection, a cancelled statement and a wait with a timeout
leave no watch behind and no caller hanging. On both event loops the app may run on (asyncio's,
uvloop's: ``serve``'s)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import psycopg
import pytest
import uvloop
from sqlalchemy import text
from sqlalchemy.orm import Session

from bankfeeds.kit.db import Database
from bankfeeds.kit.pg_async import PgConnection
from tests.fixtures.database import PG_ADMIN_URL

pytestmark = pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])

Runner = Callable[[Awaitable[Any]], Any]


@pytest.fixture
def conninfo(pg_process_db: str) -> Iterator[str]:
    yield pg_process_db.replace("postgresql+psycopg://", "postgresql://", 1)


def _watched(fd: int) -> bool:
    """Whether the running loop watches ``fd`` for reading (asking removes the watch)."""
    return asyncio.get_running_loop().remove_reader(fd)


def test_a_transaction_is_watched_from_its_first_answer_to_its_end(run: Runner, conninfo: str) -> None:
    async def main() -> None:
        conn = await PgConnection.connect(conninfo)
        fd = conn.pgconn.socket
        cur = conn.cursor()
        await cur.execute("SELECT %s::int + 1", (41,))
        assert await cur.fetchone() == (42,)
        watch = conn._watch
        assert watch is not None and watch.live  # in the transaction: one watch, kept
        await cur.execute("SELECT generate_series(1, 3)")
        assert await cur.fetchall() == [(1,), (2,), (3,)]
        assert conn._watch is watch  # the same one for the next statement
        await conn.commit()
        assert conn._watch is None and not watch.live
        assert not _watched(fd)  # at rest: the loop does not watch it
        await cur.execute("SELECT 1")
        await conn.rollback()
        assert conn._watch is None and not _watched(fd)
        await conn.close()

    run(main())


def test_a_statement_too_big_for_one_send_is_answered(run: Runner, conninfo: str) -> None:
    async def main() -> None:
        conn = await PgConnection.connect(conninfo)
        big = "x" * (16 * 1024 * 1024)  # more than a socket takes at once: a wait for writing
        cur = conn.cursor()
        await cur.execute("SELECT length(%s::text), md5(%s::text) = md5(repeat('x', 16777216))", (big, big))
        assert await cur.fetchone() == (len(big), True)
        await conn.commit()
        assert conn._watch is None
        await conn.close()

    run(main())


def test_a_server_that_ends_the_connection_leaves_no_watch_and_no_caller_hanging(
    run: Runner, conninfo: str
) -> None:
    async def main() -> None:
        conn = await PgConnection.connect(conninfo)
        cur = conn.cursor()
        await cur.execute("SELECT pg_backend_pid()")
        row = await cur.fetchone()
        assert row is not None and conn._watch is not None
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        # Readable while nobody waits (the server's goodbye): the watch is dropped at once, not
        # called again and again.
        for _ in range(200):
            if conn._watch is None:
                break
            await asyncio.sleep(0.01)
        assert conn._watch is None
        with pytest.raises(psycopg.OperationalError):
            await asyncio.wait_for(cur.execute("SELECT 1"), 10)
        await conn.close()

    run(main())


def test_a_cancelled_statement_closes_the_connection_and_leaves_no_watch(run: Runner, conninfo: str) -> None:
    async def main() -> None:
        conn = await PgConnection.connect(conninfo)
        fd = conn.pgconn.socket
        cur = conn.cursor()
        await cur.execute("SELECT 1")
        task = asyncio.create_task(cur.execute("SELECT pg_sleep(30)"))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        assert conn.closed  # half answered: not reusable (the server rolls back what it had begun)
        assert conn._watch is None and not _watched(fd)
        await conn.close()

    run(main())


def test_a_wait_with_a_timeout_is_psycopgs_own_and_the_transaction_goes_on(run: Runner, conninfo: str) -> None:
    async def main() -> None:
        conn = await PgConnection.connect(conninfo)
        cur = conn.cursor()
        await cur.execute("LISTEN bankfeeds_test")
        assert conn._watch is not None
        # notifies() waits with a timeout: psycopg's wait, which watches the socket its own way.
        assert [n async for n in conn.notifies(timeout=0.05)] == []
        assert conn._watch is None
        await cur.execute("SELECT 2")  # watched again, answered: no watch lost between the two
        assert await cur.fetchone() == (2,)
        await conn.commit()
        await conn.close()

    run(main())


def test_run_async_answers_on_the_connection_and_leaves_it_unwatched(run: Runner, pg_process_db: str) -> None:
    database = Database(pg_process_db)

    def work(session: Session) -> tuple[int, Any]:
        value = int(session.execute(text("SELECT 7")).scalar_one())
        return value, session.connection().connection.dbapi_connection

    async def main() -> None:
        try:
            for _ in range(3):
                value, adapted = await database.run_async(work)
                assert value == 7
                driver = adapted.driver_connection
                assert isinstance(driver, PgConnection)
                assert driver._watch is None and not _watched(driver.pgconn.socket)  # back in the pool: at rest
        finally:
            await database.dispose_async()
            database.dispose()

    run(main())
