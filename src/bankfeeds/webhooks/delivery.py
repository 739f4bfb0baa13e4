"""Delivery: claim due messages, sign them, POST them, record every attempt, schedule retries.

A worker *claims* messages in batches in a short transaction (a lease: ``locked_by``/
``locked_until``, taken with FOR NO KEY UPDATE SKIP LOCKED on PostgreSQL), delivers them with no
transaction open, then records the attempts in another short one. The delivery lane runs an
asyncio loop in a thread of its own that keeps up to ``concurrency`` requests in flight (at most
``endpoint_concurrency`` per consumer, so one slow endpoint cannot take every slot) over
kept-alive HTTP/1.1 connections (``kit.httppool``: pooled per origin, each new one checked by
``netguard`` after DNS resolution). Each turn of the lane
records every attempt that finished and claims as many messages as there are free slots, in one
transaction run in a database thread, so the loop keeps serving responses meanwhile.

While deliveries are in flight the worker renews its leases; a worker that dies (even by
SIGKILL) stops renewing, its leases run out and another worker sends those messages again, with
the same ``webhook-id``: at-least-once, and the only duplicates are messages a dead worker held.
On shutdown the worker lets in-flight deliveries finish for a grace period, then releases what
it still holds; a delivery that ends after that is still recorded as an attempt.

Signatures follow Standard Webhooks (what Svix and Codat send): ``webhook-id``,
``webhook-timestamp`` (Unix seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``id.timestamp.body``. The body is the event's JSON text as stored (serialised once, when the
event was recorded, for every consumer and attempt); each consumer's secret is decrypted and
decoded once per worker (cached by its ciphertext); the HMAC itself is computed per attempt, because it covers the
timestamp and receivers refuse one older than 5 minutes (retries come up to 10 hours apart).
The timestamp comes from a wall clock (``SystemClock`` unless injected), because receivers
compare it with their own clock; the retry schedule and every stored time come from the
injected clock, so tests and the demo can move time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from standardwebhooks.webhooks import Webhook

from bankfeeds.config import Settings
from bankfeeds.kit.clock import Clock, SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.kit.http import retry_after
from bankfeeds.kit.httppool import HttpPool
from bankfeeds.models.webhook_message import WebhookMessageStatus
from bankfeeds.observability import metrics
from bankfeeds.webhooks import service, signing
from bankfeeds.webhooks.config import (
    DISABLE_AFTER,
    RESPONSE_HEAD_BYTES,
    RETRY_AFTER_CAP,
    RETRY_AFTER_STATUSES,
    RETRY_SCHEDULE,
    DeliveryOptions,
)
from bankfeeds.webhooks.repository import ClaimedRow, WebhookRepository

log = logging.getLogger("bankfeeds.webhooks")

USER_AGENT = "bankfeeds-webhooks/1.0"
# While deliveries are in flight, a turn of the lane waits this long for more of them to end.
COALESCE_SECONDS = 0.003
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """What one attempt needs, read at claim time so no transaction stays open during HTTP."""

    message_id: str
    consumer_id: Any
    url: str
    signers: tuple[Webhook, ...]
    body: str
    trigger: str
    correlation_id: str | None = None
    consumer_failing: bool = True  # as read at claim time (True: unknown)

    def __repr__(self) -> str:  # never show the secrets
        return f"Job({self.message_id} -> {self.url})"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    response: str
    error: str | None
    success: bool
    retry_after: str | None = None  # the Retry-After header of a 429 or 503, as received


async def post(client: HttpPool, job: Job, timestamp: datetime, timeout: float) -> Outcome:
    """One signed POST. A 2xx within ``timeout`` seconds (the whole exchange) is a success."""
    headers = {
        "content-type": "application/json",
        "webhook-id": job.message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signing.signature_with(job.signers, job.message_id, timestamp, job.body),
    }
    started = time.perf_counter()
    status: int | None = None
    head = b""
    error: str | None = None
    wait: str | None = None
    try:
        async with asyncio.timeout(timeout):
            answer = await client.post(job.url, job.body.encode("utf-8"), headers, keep_bytes=RESPONSE_HEAD_BYTES)
        status, head = answer.status_code, answer.head
        if status in RETRY_AFTER_STATUSES:
            wait = answer.header("retry-after")
    except TimeoutError:
        error = f"no response within {timeout:g} s"
    except Exception as exc:  # refused, unreachable, a broken answer: still an attempt
        error = f"{type(exc).__name__}: {exc}"[:300]
    elapsed = time.perf_counter() - started
    success = status is not None and 200 <= status < 300 and error is None
    return Outcome(
        status_code=status,
        latency_ms=int(elapsed * 1000),
        response=head[:RESPONSE_HEAD_BYTES].decode("utf-8", errors="replace"),
        error=error,
        success=success,
        retry_after=wait,
    )


@dataclass(frozen=True)
class Result:
    job: Job
    attempted_at: datetime
    outcome: Outcome


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from synchronous code (in a thread if this one runs a loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Deliverer:
    """The delivery lane of one worker: an asyncio loop with deliveries in flight, fed from claims."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        clock: Clock,
        options: DeliveryOptions | None = None,
        *,
        wall_clock: Clock | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.options = options or DeliveryOptions.from_settings(settings)
        self.wall_clock = wall_clock or SystemClock()
        self.name = worker_name()
        self._signers: dict[str, Webhook] = {}
        self._lock = threading.Lock()
        self._db_pool: ThreadPoolExecutor | None = None

    # Pieces

    @property
    def endpoint_concurrency(self) -> int:
        """At most this many deliveries in flight per consumer: always a slot left for the others."""
        n = self.options.concurrency
        return max(1, min(self.options.endpoint_concurrency, n - 1 if n > 1 else 1))

    def client(self) -> HttpPool:
        """An HTTP client for one event loop: keep-alive connections, pooled per origin, each
        new one checked again after DNS resolution (``netguard``), whatever the URL said when stored."""
        return HttpPool(allow_private=self.settings.allow_private_webhook_targets, user_agent=USER_AGENT,
                        max_idle_per_origin=self.options.concurrency)

    def _signer(self, token: str) -> Webhook:
        """The signer of an encrypted secret: decrypted and decoded once per worker."""
        signer = self._signers.get(token)
        if signer is None:
            if len(self._signers) > 256:
                self._signers.clear()
            signer = self._signers[token] = Webhook(signing.decrypt(self.settings.secret_key, token))
        return signer

    def _jobs(self, rows: list[ClaimedRow], now: datetime) -> list[Job]:
        jobs = []
        for row in rows:
            tokens = service.signing_tokens(row.secret_encrypted, row.previous_secret_encrypted,
                                            row.previous_secret_expires_at, now)
            jobs.append(Job(
                message_id=row.message_id, consumer_id=row.consumer_id, url=row.url,
                signers=tuple(self._signer(t) for t in tokens), body=row.body, trigger=row.trigger,
                correlation_id=row.correlation_id, consumer_failing=row.consumer_failing,
            ))
        return jobs

    def _lease(self) -> timedelta:
        return timedelta(seconds=self.options.lease_seconds)

    def claim(self, limit: int) -> list[Job]:
        """Take up to ``limit`` due messages (one short transaction)."""
        return self.settle_and_claim([], limit)

    async def send(self, client: HttpPool, job: Job) -> Result:
        """The HTTP part of an attempt; touches no database."""
        attempted_at = self.clock.now()
        outcome = await post(client, job, self.wall_clock.now(), self.options.timeout_seconds)
        return Result(job, attempted_at, outcome)

    async def _send_all(self, jobs: list[Job]) -> list[Result]:
        client = self.client()
        try:
            return list(await asyncio.gather(*(self.send(client, job) for job in jobs)))
        finally:
            await client.close()

    def attempt(self, job: Job) -> Outcome:
        """Deliver one claimed message and record the attempt."""
        [result] = _run_sync(self._send_all([job]))
        self.settle_and_claim([result], 0)
        return result.outcome

    def settle_and_claim(
        self, results: list[Result], limit: int, room: dict[Any, int] | None = None
    ) -> list[Job]:
        """One short transaction: record finished attempts, then claim up to ``limit`` due messages
        (``room``: how many more each consumer may have in flight, if fewer than its share).

        If it fails, the results are lost and their messages are sent again once their leases
        run out: at-least-once.
        """
        if not results and limit <= 0:
            return []
        try:
            with self.database.unit_of_work() as session:
                repo = WebhookRepository(session)
                if results:
                    self._settle(repo, results)
                if limit <= 0:
                    return []
                now = self.clock.now()
                rows = repo.claim_batch(now, limit, self.name, now + self._lease(),
                                        per_consumer=self.endpoint_concurrency, room=room)
                return self._jobs(rows, now)
        except Exception:
            if results:
                log.exception("could not record %d webhook attempt(s); they will be retried", len(results))
                return []
            raise

    def _settle(self, repo: WebhookRepository, results: list[Result]) -> None:
        """Record the attempts and move their messages on, a few statements for the whole batch."""
        ids = [r.job.message_id for r in results]
        held = repo.held_for_settle(self.name, ids)
        existing = set(held) | repo.existing_messages([m for m in ids if m not in held])
        now = self.clock.now()
        succeeded: set[Any] = set()
        to_clear: set[Any] = set()  # succeeded, and seen failing when their messages were claimed
        failed: set[Any] = set()
        attempts: list[dict[str, Any]] = []
        delivered: list[dict[str, Any]] = []
        retried: list[dict[str, Any]] = []
        for result in results:
            job, outcome = result.job, result.outcome
            if job.message_id not in existing:
                continue  # its consumer was deleted meanwhile
            log.info("webhook attempt %s", "succeeded" if outcome.success else "failed", extra={
                "correlation_id": job.correlation_id, "kind": "job", "job": "deliver_webhook_messages",
                "message_id": job.message_id, "consumer_id": str(job.consumer_id), "trigger": job.trigger,
                "status": outcome.status_code, "duration_ms": outcome.latency_ms, "error": outcome.error})
            attempts.append({
                "message_id": job.message_id, "consumer_id": job.consumer_id, "attempted_at": result.attempted_at,
                "url": job.url, "status_code": outcome.status_code, "success": outcome.success,
                "latency_ms": outcome.latency_ms, "response": outcome.response, "error": outcome.error,
                "trigger": job.trigger, "worker": self.name,
            })
            message = held.pop(job.message_id, None)
            if message is None:
                continue  # our lease ran out and another worker has it now: its result decides
            if outcome.success:
                delivered.append({"m_id": job.message_id, "m_at": result.attempted_at, "m_now": now})
                succeeded.add(job.consumer_id)
                if job.consumer_failing:  # else there is nothing to clear: no statement for it
                    to_clear.add(job.consumer_id)
                continue
            n = message.attempts + 1
            last = n >= len(RETRY_SCHEDULE)
            retried.append({
                "m_id": job.message_id, "m_at": result.attempted_at, "m_attempts": n,
                "m_status": WebhookMessageStatus.FAILURE if last else WebhookMessageStatus.ATTEMPTING,
                "m_next": None if last else self._next_attempt(now, n, outcome),
            })
            failed.add(job.consumer_id)
        repo.add_attempts(attempts)
        outcomes = Counter("success" if a["success"] else "failure" for a in attempts)

        def count() -> None:  # plain rows are not seen by the metrics' ORM listener: counted here
            for outcome, n in outcomes.items():
                metrics.WEBHOOK_DELIVERIES.labels(outcome).inc(n)

        if attempts:
            metrics.on_commit(repo.session, count)
        repo.settle_succeeded(delivered)
        repo.settle_failed(retried)
        for consumer_id in to_clear - failed:
            repo.consumer_succeeded(consumer_id)
        for consumer_id in failed - succeeded:
            if repo.consumer_failed(consumer_id, now, now - DISABLE_AFTER):
                log.warning("webhook consumer %s disabled: every attempt failed for %s days",
                            consumer_id, DISABLE_AFTER.days)

    def _next_attempt(self, now: datetime, attempts: int, outcome: Outcome) -> datetime:
        """Svix's schedule, or the endpoint's Retry-After (429/503) if later: capped at
        ``RETRY_AFTER_CAP``; an unreadable one is ignored. An HTTP date is real time, so it is
        compared with the wall clock; the wait is then counted on the injected clock."""
        scheduled = now + RETRY_SCHEDULE[attempts]
        if outcome.retry_after is None:
            return scheduled
        wait = retry_after(outcome.retry_after, wall_now=self.wall_clock.now(), limit=RETRY_AFTER_CAP)
        return scheduled if wait is None else max(scheduled, now + wait)

    def renew(self, message_ids: list[str]) -> None:
        if not message_ids:
            return
        with self.database.unit_of_work() as session:
            WebhookRepository(session).renew(self.name, message_ids, self.clock.now() + self._lease())

    def release(self, message_ids: list[str]) -> int:
        if not message_ids:
            return 0
        with self.database.unit_of_work() as session:
            return WebhookRepository(session).release(self.name, message_ids)

    # The Lane protocol of worker.runner

    def run_once(self) -> int:
        """Claim what is due (up to ``concurrency``), deliver it all, record it. For drain() and tests."""
        jobs = self.claim(self.options.concurrency)
        if not jobs:
            return 0
        self.settle_and_claim(_run_sync(self._send_all(jobs)), 0)
        return len(jobs)

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        """Deliver until ``stop``, then wind down (see the module).

        The event loop runs in a thread of its own; this thread passes ``wake`` (set by commits,
        NOTIFY and ``stop``) on to it, and returns once the loop has wound down. Deliveries still
        running after the grace period go on in the loop's thread until they end, and are recorded.
        """
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="bankfeeds-webhooks-loop", daemon=True)
        thread.start()
        awake = asyncio.Event()
        late: list[asyncio.Task[Result]] = []
        serving = asyncio.run_coroutine_threadsafe(self._serve(stop, awake, late), loop)
        client: HttpPool | None = None
        try:
            while not serving.done():
                if wake.wait(0.25):
                    wake.clear()
                    loop.call_soon_threadsafe(awake.set)
            client = serving.result()
        finally:
            asyncio.run_coroutine_threadsafe(self._finish_late(late, client), loop).add_done_callback(
                lambda _f: loop.call_soon_threadsafe(loop.stop))

    async def _in_db(self, fn: Callable[..., T], *args: Any) -> T:
        """Database work in the lane's database thread, so the loop keeps serving HTTP meanwhile."""
        with self._lock:
            if self._db_pool is None:
                self._db_pool = ThreadPoolExecutor(1, thread_name_prefix="bankfeeds-webhooks-db")
            pool = self._db_pool
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args))

    async def _serve(
        self, stop: threading.Event, awake: asyncio.Event, late: list[asyncio.Task[Result]]
    ) -> HttpPool:
        """Keep up to ``concurrency`` deliveries in flight until ``stop``; then wind down.

        Each turn records the attempts that finished and claims as many new messages as there
        are free slots (within each consumer's share), in one transaction.
        """
        client = self.client()
        in_flight: dict[str, tuple[Job, asyncio.Task[Result]]] = {}
        finished: list[Result] = []
        poll = self.settings.worker_poll_seconds
        heartbeat = max(0.2, self.options.lease_seconds / 3)
        share = self.endpoint_concurrency
        last_renewal = time.monotonic()

        def done(job: Job, task: asyncio.Task[Result]) -> None:
            if in_flight.get(job.message_id, (None, None))[1] is task:
                del in_flight[job.message_id]
            if not task.cancelled():
                finished.append(task.result())  # post() turns every failure into an Outcome
            awake.set()

        while not stop.is_set():
            if in_flight and len(finished) < len(in_flight):
                # Busy: let a few more deliveries end so one transaction records (and replaces)
                # a batch of them, not one or two. Idle (nothing in flight), a claim starts at once.
                await asyncio.sleep(COALESCE_SECONDS)
            awake.clear()
            results, finished[:] = finished[:], []
            free = self.options.concurrency - len(in_flight)
            busy = Counter(job.consumer_id for job, _ in in_flight.values())
            room = {c: share - n for c, n in busy.items()}
            jobs: list[Job] = []
            try:
                jobs = await self._in_db(self.settle_and_claim, results, free, room)
            except Exception:
                log.exception("claiming webhook messages failed; retrying")
            for job in jobs:
                task = asyncio.create_task(self.send(client, job))
                in_flight[job.message_id] = (job, task)
                task.add_done_callback(functools.partial(done, job))
            if time.monotonic() - last_renewal >= heartbeat:
                await self._in_db(self._renew_quietly, list(in_flight))
                last_renewal = time.monotonic()
            if jobs and len(jobs) == free:
                continue  # there may be more due: claim again as slots free up
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(awake.wait(), min(poll, heartbeat))
        await self._wind_down(in_flight, finished, awake, heartbeat)
        late.extend(task for _, task in in_flight.values())
        return client

    def _renew_quietly(self, message_ids: list[str]) -> None:
        try:
            self.renew(message_ids)
        except Exception:
            log.exception("renewing webhook leases failed")

    async def _wind_down(
        self, in_flight: dict[str, tuple[Job, asyncio.Task[Result]]], finished: list[Result],
        awake: asyncio.Event, heartbeat: float,
    ) -> None:
        """Graceful shutdown: finish in-flight deliveries for a while, then release the rest."""
        deadline = time.monotonic() + self.options.grace_seconds
        last_renewal = time.monotonic()
        while in_flight and time.monotonic() < deadline:
            awake.clear()
            if finished:
                results, finished[:] = finished[:], []
                await self._in_db(self.settle_and_claim, results, 0)
                continue
            if time.monotonic() - last_renewal >= heartbeat:
                await self._in_db(self._renew_quietly, list(in_flight))
                last_renewal = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(awake.wait(), max(0.01, min(heartbeat, deadline - time.monotonic())))
        if finished:
            results, finished[:] = finished[:], []
            await self._in_db(self.settle_and_claim, results, 0)
        if not in_flight:
            return
        try:
            released = await self._in_db(self.release, list(in_flight))
            log.warning("shutting down: released %d webhook message(s) still in flight", released)
        except Exception:
            log.exception("could not release webhook messages; their leases will run out")

    async def _finish_late(self, late: list[asyncio.Task[Result]], client: HttpPool | None) -> None:
        """Deliveries that outlived the grace period: recorded as attempts when they end (their
        messages are no longer this worker's); then the client closes and the loop stops."""
        for outcome in await asyncio.gather(*late, return_exceptions=True):
            if isinstance(outcome, Result):
                self.settle_and_claim([outcome], 0)  # logs and drops it if it cannot be recorded
        if client is not None:
            await client.close()

    def close(self) -> None:
        with self._lock:
            pool, self._db_pool = self._db_pool, None
        if pool is not None:
            pool.shutdown(wait=False)
