"""Delivery: claim due messages, sign them, POST them, record every attempt, schedule retries.

A worker *claims* a message in a short transaction (a lease: ``locked_by``/``locked_until``,
taken with FOR NO KEY UPDATE SKIP LOCKED on PostgreSQL), delivers it with no transaction open,
then records the attempt in another short one; the delivery lane keeps up to ``concurrency``
deliveries in flight and, each turn, records those that finished and claims new ones in one
transaction. While a delivery is in flight the worker renews its
leases; a worker that dies (even by SIGKILL) stops renewing, its leases run out and another
worker sends those messages again, with the same ``webhook-id``: at-least-once, and the only
duplicates are messages a dead worker held. On shutdown the worker lets in-flight deliveries
finish for a grace period, then releases what it still holds.

Signatures follow Standard Webhooks (what Svix and Codat send): ``webhook-id``,
``webhook-timestamp`` (Unix seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256>``.
The timestamp comes from a wall clock (``SystemClock`` unless injected), because receivers
compare it with their own clock (the svix library allows 5 minutes); the retry schedule and
every stored time come from the injected clock, so tests and the demo can move time.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from bankfeeds.config import Settings
from bankfeeds.kit import jsonutil, netguard
from bankfeeds.kit.clock import Clock, SystemClock
from bankfeeds.kit.db import Database
from bankfeeds.models import WebhookAttempt
from bankfeeds.webhooks import service, signing
from bankfeeds.webhooks.config import DISABLE_AFTER, RESPONSE_HEAD_BYTES, RETRY_SCHEDULE, DeliveryOptions
from bankfeeds.webhooks.repository import WebhookRepository

log = logging.getLogger("bankfeeds.webhooks")

USER_AGENT = "bankfeeds-webhooks/1.0"


@dataclass(frozen=True)
class Job:
    """What one attempt needs, read at claim time so no transaction stays open during HTTP."""

    message_id: str
    consumer_id: Any
    url: str
    signing_secrets: tuple[str, ...]
    body: str
    trigger: str
    correlation_id: str | None = None

    def __repr__(self) -> str:  # never show the secrets
        return f"Job({self.message_id} -> {self.url})"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    response: str
    error: str | None
    success: bool


def post(client: httpx.Client, job: Job, timestamp: datetime, timeout: float) -> Outcome:
    """One signed POST. A 2xx within ``timeout`` seconds is a success; nothing else is."""
    body = job.body.encode("utf-8")
    headers = {
        "content-type": "application/json",
        "webhook-id": job.message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signing.signature(job.message_id, timestamp, job.body, list(job.signing_secrets)),
    }
    started = time.perf_counter()
    status: int | None = None
    head = b""
    error: str | None = None
    try:
        with client.stream("POST", job.url, content=body, headers=headers) as response:
            status = response.status_code
            for chunk in response.iter_bytes():
                head += chunk
                if len(head) >= RESPONSE_HEAD_BYTES or time.perf_counter() - started > timeout:
                    break
    except httpx.TimeoutException:
        error = f"no response within {timeout:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    except Exception as exc:  # a URL httpx refuses, a broken response: still an attempt
        error = f"{type(exc).__name__}: {exc}"[:300]
    elapsed = time.perf_counter() - started
    if status is not None and error is None and elapsed > timeout:
        error = f"answered after {elapsed:.1f} s, over the {timeout:g} s limit"
    success = status is not None and 200 <= status < 300 and error is None
    return Outcome(
        status_code=status,
        latency_ms=int(elapsed * 1000),
        response=head[:RESPONSE_HEAD_BYTES].decode("utf-8", errors="replace"),
        error=error,
        success=success,
    )


@dataclass(frozen=True)
class Result:
    job: Job
    attempted_at: datetime
    outcome: Outcome


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Deliverer:
    """The delivery lane of one worker: a pool of deliveries in flight, fed from claims."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        clock: Clock,
        options: DeliveryOptions | None = None,
        *,
        wall_clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.options = options or DeliveryOptions()
        self.wall_clock = wall_clock or SystemClock()
        self.name = worker_name()
        self._transport = transport
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    # Pieces

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                n = self.options.concurrency
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.options.timeout_seconds),
                    follow_redirects=False,
                    limits=httpx.Limits(max_connections=n * 2, max_keepalive_connections=n),
                    headers={"user-agent": USER_AGENT},
                    # Checked again here, after DNS resolution, whatever the URL said when stored.
                    transport=self._transport or netguard.guarded_transport(
                        allow_private=self.settings.allow_private_webhook_targets),
                    trust_env=False,
                )
            return self._client

    @property
    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="bankfeeds-deliver")
            return self._pool

    def _lease(self) -> timedelta:
        return timedelta(seconds=self.options.lease_seconds)

    def claim(self, limit: int) -> list[Job]:
        """Take up to ``limit`` due messages (one short transaction)."""
        return self.settle_and_claim([], limit)

    def send(self, job: Job) -> Result:
        """The HTTP part of an attempt; touches no database."""
        attempted_at = self.clock.now()
        outcome = post(self.client, job, self.wall_clock.now(), self.options.timeout_seconds)
        return Result(job, attempted_at, outcome)

    def attempt(self, job: Job) -> Outcome:
        """Deliver one claimed message and record the attempt."""
        result = self.send(job)
        self.settle_and_claim([result], 0)
        return result.outcome

    def settle_and_claim(self, results: list[Result], limit: int) -> list[Job]:
        """One short transaction: record finished attempts, then claim up to ``limit`` due messages.

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
                claimed = repo.claim_due(now, limit, self.name, now + self._lease())
                return [
                    Job(
                        message_id=c.message.id,
                        consumer_id=c.consumer.id,
                        url=c.consumer.url,
                        signing_secrets=tuple(service.signing_secrets(self.settings, c.consumer, now)),
                        body=jsonutil.dumps(c.body),
                        trigger=c.message.trigger,
                        correlation_id=c.correlation_id,
                    )
                    for c in claimed
                ]
        except Exception:
            if results:
                log.exception("could not record %d webhook attempt(s); they will be retried", len(results))
                return []
            raise

    def _settle(self, repo: WebhookRepository, results: list[Result]) -> None:
        held = repo.held_many(self.name, [r.job.message_id for r in results])
        existing = set(held) | repo.existing_messages([r.job.message_id for r in results if r.job.message_id
                                                       not in held])
        now = self.clock.now()
        succeeded: set[Any] = set()
        failed: set[Any] = set()
        for result in results:
            job, outcome = result.job, result.outcome
            if job.message_id not in existing:
                continue  # its consumer was deleted meanwhile
            log.info("webhook attempt %s", "succeeded" if outcome.success else "failed", extra={
                "correlation_id": job.correlation_id, "kind": "job", "job": "deliver_webhook_messages",
                "message_id": job.message_id, "consumer_id": str(job.consumer_id), "trigger": job.trigger,
                "status": outcome.status_code, "duration_ms": outcome.latency_ms, "error": outcome.error})
            repo.add_attempt(
                WebhookAttempt(
                    message_id=job.message_id, consumer_id=job.consumer_id, attempted_at=result.attempted_at,
                    url=job.url, status_code=outcome.status_code, success=outcome.success,
                    latency_ms=outcome.latency_ms, response=outcome.response, error=outcome.error,
                    trigger=job.trigger, worker=self.name,
                )
            )
            message = held.get(job.message_id)
            if message is None:
                continue  # our lease ran out and another worker has it now: its result decides
            message.locked_by = None
            message.locked_until = None
            message.last_attempt_at = result.attempted_at
            if outcome.success:
                message.status = "Success"
                message.next_attempt_at = None
                message.delivered_at = now
                succeeded.add(job.consumer_id)
                continue
            message.attempts += 1
            if message.attempts >= len(RETRY_SCHEDULE):
                message.status = "Failure"
                message.next_attempt_at = None
            else:
                message.status = "Attempting"
                message.next_attempt_at = now + RETRY_SCHEDULE[message.attempts]
            failed.add(job.consumer_id)
        repo.session.flush()
        for consumer_id in succeeded - failed:
            repo.consumer_succeeded(consumer_id)
        for consumer_id in failed - succeeded:
            if repo.consumer_failed(consumer_id, now, now - DISABLE_AFTER):
                log.warning("webhook consumer %s disabled: every attempt failed for %s days",
                            consumer_id, DISABLE_AFTER.days)

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
        results = [self.send(jobs[0])] if len(jobs) == 1 else list(self.pool.map(self.send, jobs))
        self.settle_and_claim(results, 0)
        return len(jobs)

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        """Keep up to ``concurrency`` deliveries in flight until ``stop``; then wind down.

        Each turn records the attempts that finished and claims as many new messages as there
        are free slots, in one transaction.
        """
        in_flight: dict[str, Future[Result]] = {}
        poll = self.settings.worker_poll_seconds
        heartbeat = max(0.2, self.options.lease_seconds / 3)
        last_renewal = time.monotonic()
        while not stop.is_set():
            wake.clear()
            finished = [m for m, f in in_flight.items() if f.done()]
            results = [in_flight.pop(m).result() for m in finished]
            free = self.options.concurrency - len(in_flight)
            jobs: list[Job] = []
            try:
                jobs = self.settle_and_claim(results, free)
            except Exception:
                log.exception("claiming webhook messages failed; retrying")
            for job in jobs:
                future = self.pool.submit(self.send, job)
                future.add_done_callback(lambda _f: wake.set())
                in_flight[job.message_id] = future
            if time.monotonic() - last_renewal >= heartbeat:
                self._renew_quietly(list(in_flight))
                last_renewal = time.monotonic()
            if jobs and len(jobs) == free:
                continue  # there may be more due: claim again as slots free up
            wake.wait(min(poll, heartbeat))
        self._wind_down(in_flight, heartbeat)

    def _renew_quietly(self, message_ids: list[str]) -> None:
        try:
            self.renew(message_ids)
        except Exception:
            log.exception("renewing webhook leases failed")

    def _wind_down(self, in_flight: dict[str, Future[Result]], heartbeat: float) -> None:
        """Graceful shutdown: finish in-flight deliveries for a while, then release the rest."""
        deadline = time.monotonic() + self.options.grace_seconds
        last_renewal = time.monotonic()
        while in_flight and time.monotonic() < deadline:
            finished = [m for m, f in in_flight.items() if f.done()]
            if finished:
                self.settle_and_claim([in_flight.pop(m).result() for m in finished], 0)
                continue
            if time.monotonic() - last_renewal >= heartbeat:
                self._renew_quietly(list(in_flight))
                last_renewal = time.monotonic()
            time.sleep(0.02)
        if not in_flight:
            return
        try:
            released = self.release(list(in_flight))
            log.warning("shutting down: released %d webhook message(s) still in flight", released)
        except Exception:
            log.exception("could not release webhook messages; their leases will run out")
        # A delivery that ends after this is recorded as an attempt (the message is no longer ours).
        for future in in_flight.values():
            future.add_done_callback(lambda f: self.settle_and_claim([f.result()], 0))

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            if self._client is not None:
                self._client.close()
                self._client = None
