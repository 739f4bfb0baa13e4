"""Idempotency-Key on POST and PATCH of the public API, as an ASGI middleware.

Only requests that carry the header, go to a public-API path and present a valid API key
are touched; everything else passes straight through. The request body is read whole (the
body-size limit outside this middleware still applies), the key reserved in its own
transaction, the request run, and its response stored before it is sent. The rules and the
crash analysis are in ``service.py``.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bankfeeds import errors
from bankfeeds.api_keys import service as api_keys
from bankfeeds.api_keys.service import Caller
from bankfeeds.config import Settings
from bankfeeds.idempotency import service
from bankfeeds.kit import locks
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.kit.http import header, read_body, replaying
from bankfeeds.kit.surfaces import SurfaceRegistry

log = logging.getLogger("bankfeeds.idempotency")

HEADER = b"idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PATCH"})
# Response headers not worth replaying: recomputed or connection-specific.
_NOT_STORED = frozenset({"content-length", "date", "server", "connection", "transfer-encoding", "set-cookie"})


class IdempotencyMiddleware:
    def __init__(
        self, app: ASGIApp, *, database: Database, settings: Settings, clock: Clock, surfaces: SurfaceRegistry
    ) -> None:
        self.app = app
        self.database = database
        self.settings = settings
        self.clock = clock
        self.surfaces = surfaces

    def applies_to(self, path: str) -> bool:
        return self.surfaces.is_public_api(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        raw_key = header(scope, HEADER)
        if raw_key is None or not raw_key.strip() or not self.applies_to(scope["path"]):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client went away before sending its body
        fingerprint = service.request_hash(scope["method"], scope["path"], scope.get("query_string", b""), body)
        try:
            found = await run_in_threadpool(
                self._reserve, header(scope, b"authorization"), service.key_hash(raw_key.strip()), fingerprint
            )
        except OperationalError:
            await self._unavailable(scope, receive, send)
            return
        if found is None:
            # Not a valid API key: the route answers 401 itself, and nothing is kept.
            await self.app(scope, replaying(body, receive), send)
            return
        api_key, outcome, owner_lock = found
        # The route's own authentication reuses this instead of asking the database again.
        scope.setdefault("state", {})["api_key"] = api_key
        if isinstance(outcome, service.Reserved):
            assert owner_lock is not None
            try:
                await self._run(scope, replaying(body, receive), send, outcome.row_id)
            finally:
                await run_in_threadpool(owner_lock.release)
            return
        response = self._answer(scope, outcome)
        await response(scope, receive, send)

    async def _unavailable(self, scope: Scope, receive: Receive, send: Send) -> None:
        # As the app's own handler answers a database outage (this runs outside it).
        log.warning("database unavailable while checking an Idempotency-Key")
        response = self.surfaces.render(
            Request(scope), errors.ServiceUnavailable("The database is busy or unavailable; retry shortly.")
        )
        await response(scope, receive, send)

    # --- the first request with a key -----------------------------------------------------

    async def _run(self, scope: Scope, receive: Receive, send: Send, row_id: Any) -> None:
        captured = _Captured()
        failure: Exception | None = None
        with service.attempt(row_id) as current:
            try:
                await self.app(scope, receive, captured.send)
            except Exception as exc:
                failure = exc
        # Outside the attempt: the sessions below must not count as the request's own commits.
        if failure is not None:
            # The server-error handler outside this middleware answers 500 in the envelope;
            # keep the same answer (same correlationId, kept on the request state).
            response = self.surfaces.render(Request(scope), errors.BankfeedsError("An unexpected error occurred."))
            captured.set(response.status_code, response.raw_headers, bytes(response.body))
            await self._finish(row_id, captured, committed=current.committed)
            raise failure
        if captured.status is None:
            return  # the server answers for an app that sent nothing; the key stays reserved
        if captured.complete:
            await self._finish(row_id, captured, committed=current.committed)
        await captured.replay(send)

    async def _finish(self, row_id: Any, captured: _Captured, *, committed: bool) -> None:
        assert captured.status is not None
        try:
            if captured.status == 429 and not committed:
                await run_in_threadpool(self._release, row_id)
            else:
                await run_in_threadpool(self._complete, row_id, captured)
        except Exception:
            # The client still gets its answer; the row is left for the abandon/expiry rules.
            log.exception("could not store the response of an Idempotency-Key request")

    # --- later requests with the same key ---------------------------------------------------

    def _answer(self, scope: Scope, outcome: service.Outcome) -> Response:
        if isinstance(outcome, service.Replay):
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in outcome.headers]
            response = Response(outcome.body, status_code=outcome.status_code)
            response.raw_headers = [
                *[(k, v) for k, v in headers if k.lower() != b"content-length"],
                (b"content-length", str(len(outcome.body)).encode()),
                (REPLAYED_HEADER.lower().encode(), b"true"),
            ]
            return response
        err: errors.BankfeedsError
        if isinstance(outcome, service.Mismatch):
            err = errors.Unprocessable(
                "This Idempotency-Key was already used with a different request (method, path, query "
                "or body). Use a new key for a new request."
            )
        elif isinstance(outcome, service.Lost):
            err = errors.Conflict(
                "The first request with this Idempotency-Key completed, but its response could not be "
                "recorded. Read the resource instead of retrying, or use a new key."
            )
        else:
            err = errors.Conflict(
                "A request with this Idempotency-Key is still in progress; retry once it has finished."
            )
        return self.surfaces.render(Request(scope), err)

    # --- database work, in the threadpool ------------------------------------------------

    def _reserve(
        self, authorization: str | None, key_digest: str, fingerprint: str
    ) -> tuple[Caller, service.Outcome, locks.Held | None] | None:
        """Authenticate, take the key's owner lock if free, and reserve in one short transaction;
        None for a missing or bad API key. The lock is returned only with a reservation."""
        owner_lock: locks.Held | None = None
        try:
            with self.database.unit_of_work() as session:
                try:
                    api_key = api_keys.authenticate(session, authorization, self.clock)
                except errors.Unauthorized:
                    return None
                owner_lock = locks.try_acquire(self.database, service.lock_name(api_key.id, key_digest))
                outcome = service.reserve(session, self.clock, self.settings, api_key.id, key_digest,
                                          fingerprint, owner_lock_held=owner_lock is not None)
        except BaseException:
            if owner_lock is not None:
                owner_lock.release()
            raise
        if not isinstance(outcome, service.Reserved) and owner_lock is not None:
            owner_lock.release()
            owner_lock = None
        return api_key, outcome, owner_lock

    def _complete(self, row_id: Any, captured: _Captured) -> None:
        assert captured.status is not None
        headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in captured.headers
                   if k.decode("latin-1").lower() not in _NOT_STORED]
        with self.database.unit_of_work() as session:
            service.complete(session, self.clock, self.settings, row_id, captured.status, headers,
                             bytes(captured.body))

    def _release(self, row_id: Any) -> None:
        with self.database.unit_of_work() as session:
            service.release(session, row_id)


class _Captured:
    """The app's response, held back until it has been stored."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.complete = False

    def set(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status, self.headers, self.body, self.complete = status, list(headers), bytearray(body), True

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                self.complete = True

    async def replay(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": bytes(self.body), "more_body": False})

