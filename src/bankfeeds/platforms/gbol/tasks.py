"""Background work for Xero: deliver statements, and check each organisation's feeds once a day.

Each is a lane of the worker (``worker.task``) holding one ``XeroApi`` each (its HTTP client
keeps connections to Xero alive across calls). Statement delivery runs several deliveries at
once on a small thread pool; the shared budget keeps each tenant within Xero's limits however
many threads and processes call.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx

from bankfeeds.connections import service as connections
from bankfeeds.models import Connection, ConnectionStatus, SourceAccountStatus
from bankfeeds.platforms.gbol import XERO, mapping, tokens
from bankfeeds.platforms.gbol.delivery import TOPIC, Deliverer
from bankfeeds.platforms.gbol.grants import HOLDING, XeroRepository
from bankfeeds.platforms.gbol.xero_api import Access, InvalidGrant, XeroApi, XeroError
from bankfeeds.source_accounts import service as source_accounts
from bankfeeds.worker.task import Lane, Task, TaskContext

log = logging.getLogger("bankfeeds.xero")

CLAIM_BATCH = 32
CHECK_EVERY = timedelta(days=1)
CHECK_BATCH = 10


class _ApiLane:
    poll_seconds: float

    def __init__(self, ctx: TaskContext, http: httpx.Client | None) -> None:
        self.ctx = ctx
        self.api = XeroApi(ctx.settings, ctx.database, ctx.clock, http=http)

    def access(self, connection_id: uuid.UUID) -> Access:
        return tokens.access_for(self.ctx.database, self.ctx.clock, self.ctx.settings, self.api, connection_id)

    def run_once(self) -> int:
        raise NotImplementedError

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        while not stop.is_set():
            wake.clear()
            try:
                done = self.run_once()
            except Exception:
                log.exception("xero lane %s failed; it runs again", type(self).__name__)
                done = 0
            if done == 0:
                wake.wait(self.poll_seconds)

    def close(self) -> None:
        self.api.close()


class _StatementLane(_ApiLane):
    def __init__(self, ctx: TaskContext, http: httpx.Client | None, threads: int) -> None:
        super().__init__(ctx, http)
        self.poll_seconds = min(ctx.settings.worker_poll_seconds, ctx.settings.xero_statement_poll_seconds)
        self.deliverer = Deliverer(ctx.database, ctx.clock, ctx.settings, self.api, self.access)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="xero-statements")

    def _process(self, key: uuid.UUID) -> None:
        try:
            self.deliverer.process(key)
        except Exception:
            # The row keeps its lease and comes back when it ends.
            log.exception("delivering xero statement %s failed; it will be tried again", key)

    def run_once(self) -> int:
        keys = self.deliverer.claim(CLAIM_BATCH)
        list(self.pool.map(self._process, keys))
        return len(keys)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        super().close()


def deliver_statements(*, http: httpx.Client | None = None, threads: int = 8) -> Task:
    """Deliver accepted pushes to Xero as statements and learn their outcome (``delivery``)."""

    def open_lane(ctx: TaskContext) -> Lane:
        return _StatementLane(ctx, http, threads)

    return Task("deliver_xero_statements", open_lane, wakes_on=(TOPIC,))


class _FeedCheckLane(_ApiLane):
    # The claim is one indexed query, so polling often costs little and a moved demo clock shows soon.
    poll_seconds = 15.0

    def run_once(self) -> int:
        now = self.ctx.clock.now()
        with self.ctx.database.unit_of_work() as session:
            due = connections.claim_platform_checks(session, XERO.key, now - CHECK_EVERY, now, CHECK_BATCH)
        for connection_id in due:
            try:
                self.check(connection_id)
            except InvalidGrant:
                pass  # the connection is Deauthorized now; nothing more to check
            except XeroError as exc:
                log.info("checking the Xero feeds of connection %s failed (%s: %s); trying again tomorrow",
                         connection_id, type(exc).__name__, exc)
        return len(due)

    def check(self, connection_id: uuid.UUID) -> int:
        """Feeds removed on Xero's side turn their source accounts disconnected; returns how many."""
        held = {str(item.get("id")) for item in self.api.list_feed_connections(self.access(connection_id))}
        removed = 0
        with self.ctx.database.unit_of_work() as session:
            connection = session.get(Connection, connection_id, with_for_update=True)
            if connection is None or connection.status != ConnectionStatus.LINKED:
                return 0
            company = connection.company
            accounts = source_accounts.list_accounts(session, connection)
            for account in accounts:
                if (account.status == SourceAccountStatus.CONNECTED and account.feed_connection_id
                        and account.feed_connection_id not in held):
                    source_accounts.mark_disconnected(session, self.ctx.clock, self.ctx.settings, company,
                                                      connection, account)
                    removed += 1
            still_fed = any(a.status in HOLDING for a in accounts)
            if removed and not still_fed:
                connections.set_status(session, self.ctx.clock, self.ctx.settings, company, connection,
                                       ConnectionStatus.UNLINKED)
        return removed


class _ConfirmFeedsLane(_ApiLane):
    poll_seconds = 30.0

    def run_once(self) -> int:
        with self.ctx.database.unit_of_work() as session:
            waiting = XeroRepository(session).connecting_feeds(XERO.key, ConnectionStatus.LINKED, CHECK_BATCH)
        for connection_id, account_id in waiting:
            try:
                mapping.refresh_feed_status(self.ctx.database, self.ctx.clock, self.ctx.settings, self.api,
                                            connection_id, account_id)
            except (XeroError, tokens.NotAuthorized) as exc:
                log.info("asking Xero about the feed of %s/%s failed (%s); asking again later",
                         connection_id, account_id, type(exc).__name__)
        # Accounts still connecting are asked again at the next poll, not in a tight loop.
        return 0


def confirm_feeds(*, http: httpx.Client | None = None) -> Task:
    """Source accounts mapped but still ``connecting``: ask Xero until the feed is made or refused."""

    def open_lane(ctx: TaskContext) -> Lane:
        return _ConfirmFeedsLane(ctx, http)

    return Task("confirm_xero_feeds", open_lane)


def check_feeds(*, http: httpx.Client | None = None) -> Task:
    """Once a day per Xero connection: notice feeds removed in Xero (Codat's certification asks it)."""

    def open_lane(ctx: TaskContext) -> Lane:
        return _FeedCheckLane(ctx, http)

    return Task("check_xero_feeds", open_lane)
