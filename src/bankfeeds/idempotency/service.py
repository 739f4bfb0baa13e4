"""Codat's Idempotency-Key rules, per API key.

* The first response to a POST or PATCH with a key is replayed for ``idempotency_ttl_minutes``
  (90) to every later request with the same key and the same method, path, query and body.
* The same key with a different request is refused (422); while the first is still running,
  a second is refused (409). A 429 is never kept (the key is released); everything else is,
  4xx and 5xx included.

How a key moves, and what a crash leaves behind:

1. ``reserve`` inserts the row ``in_flight`` in its own committed transaction. The unique
   constraint on (api key, key) decides between concurrent requests: one inserts, the
   others read the winner's row and get 409 (or 422, or the replay).
2. While the request runs, every commit of its unit of work first moves the row to
   ``committed`` *inside that same transaction* (``commit_marker``). So ``committed`` is true
   exactly when the request's changes are durable, and ``in_flight`` exactly when none are.
3. The response is stored (``completed``) before it is sent, its body encrypted (it may hold
   credentials, a signing secret or a one-time password).

The request that owns a key holds its owner lock (``kit/locks.py``: a PostgreSQL advisory
lock on its own connection, a file lock on SQLite) from before its reservation until its
response is stored; a process that dies, kill -9 included, frees it. A later request with the
key first tries that lock: if another live request holds it, the answer is 409 "in progress";
if it gets it, the owner is gone. A process that dies between its reservation and its commit
leaves an ``in_flight`` row that nothing committed under: the retry that gets the lock takes
the key over at once (deletes that row, reserves anew) and runs the request again, which is
safe. Should the old request still be alive and try to commit later (its lock connection
lost, say), its marker finds its row gone and its transaction fails: it cannot commit twice.
A process that dies after its commit but before storing the response
leaves a ``committed`` row: the work happened, the response is lost. Running the request again
would duplicate it, so a retry gets 409 ("completed, response not recorded") until the key
expires; the client reads the resource instead. Expired rows count as absent and are purged
by the worker (``tasks.py``).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from bankfeeds.config import Settings
from bankfeeds.errors import Conflict
from bankfeeds.idempotency.repository import COMMITTED, COMPLETED, IdempotencyRepository
from bankfeeds.kit import crypto
from bankfeeds.kit.clock import Clock, utc
from bankfeeds.models import IdempotencyKey

PURGE_BATCH = 1000


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def request_hash(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode("utf-8"), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class Reserved:
    row_id: uuid.UUID


@dataclass(frozen=True)
class Replay:
    status_code: int
    headers: list[list[str]]
    body: bytes


@dataclass(frozen=True)
class InProgress:
    pass


@dataclass(frozen=True)
class Mismatch:
    pass


@dataclass(frozen=True)
class Lost:
    """The first request's changes committed but its response was never stored."""


Outcome = Reserved | Replay | InProgress | Mismatch | Lost


def lock_name(api_key_id: uuid.UUID, key_digest: str) -> str:
    """The owner lock of one Idempotency-Key of one API key."""
    return f"idempotency:{api_key_id}:{key_digest}"


def reserve(
    session: Session, clock: Clock, settings: Settings, api_key_id: uuid.UUID, key_digest: str,
    fingerprint: str, *, owner_lock_held: bool,
) -> Outcome:
    """Claim the key for this request, or say what the earlier request with it left.

    ``owner_lock_held``: this request holds the key's owner lock, so no other request with the
    key is alive. Without it, only a replay or a mismatch can be answered; anything else is
    still in progress.
    """
    repo = IdempotencyRepository(session)
    now = clock.now()
    for _ in range(3):
        existing = repo.get(api_key_id, key_digest)
        if existing is not None and utc(existing.expires_at) <= now:
            repo.delete_expired(existing.id, now)  # expired counts as absent
            existing = None
        if existing is None:
            if not owner_lock_held:
                return InProgress()  # the lock holder is about to reserve it
            row = IdempotencyKey(
                id=uuid.uuid4(), api_key_id=api_key_id, key_hash=key_digest, request_hash=fingerprint,
                state="in_flight", created_at=now,
                expires_at=now + timedelta(minutes=settings.idempotency_ttl_minutes),
            )
            if repo.insert_if_absent(row):
                return Reserved(row.id)
            continue  # another request took it meanwhile: read what it left
        if existing.request_hash != fingerprint:
            return Mismatch()
        if existing.state == COMPLETED:
            try:
                body = open_body(settings, existing.body or b"")
            except crypto.DecryptionError:
                return Lost()  # stored under a secret key since dropped: as if never stored
            return Replay(existing.status_code or 500, list(existing.headers or []), body)
        if not owner_lock_held:
            return InProgress()
        if existing.state == COMMITTED:
            return Lost()
        # Its owner died before it committed anything: take the key over.
        repo.delete_in_flight(existing.id)
    return InProgress()


# Stored responses carry secrets (IDX credentials, webhook signing secrets, one-time passwords
# in linkUrl): every stored body is encrypted (kit/crypto.py), whatever it holds.
BODY_PURPOSE = "idempotency-response"


def seal_body(settings: Settings, body: bytes) -> bytes:
    text = base64.b64encode(body).decode("ascii")
    return crypto.encrypt(settings, text, purpose=BODY_PURPOSE).encode("ascii")


def open_body(settings: Settings, stored: bytes) -> bytes:
    return base64.b64decode(crypto.decrypt(settings, stored.decode("ascii", "replace"), purpose=BODY_PURPOSE))


def complete(
    session: Session, clock: Clock, settings: Settings, row_id: uuid.UUID,
    status_code: int, headers: list[list[str]], body: bytes,
) -> bool:
    expires = clock.now() + timedelta(minutes=settings.idempotency_ttl_minutes)
    return IdempotencyRepository(session).complete(row_id, status_code, headers, seal_body(settings, body),
                                                   expires)


def release(session: Session, row_id: uuid.UUID) -> bool:
    return IdempotencyRepository(session).release(row_id)


def purge_expired(session: Session, clock: Clock, limit: int = PURGE_BATCH) -> int:
    return IdempotencyRepository(session).purge_expired(clock.now(), limit)


# --- the commit marker -------------------------------------------------------------------

@dataclass
class Attempt:
    """The reservation a running request holds; ``committed`` once any of its work is durable."""

    row_id: uuid.UUID
    committed: bool = False


_current: ContextVar[Attempt | None] = ContextVar("bankfeeds_idempotency_attempt", default=None)


@contextmanager
def attempt(row_id: uuid.UUID) -> Iterator[Attempt]:
    """Marks every commit made while the block runs (threadpool work included) as this key's."""
    install_commit_marker()
    current = Attempt(row_id)
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


def _before_commit(session: Session) -> None:
    current = _current.get()
    if current is None or current.committed:
        return
    if not IdempotencyRepository(session).mark_committed(current.row_id):
        raise Conflict(
            "A retry with the same Idempotency-Key took this request over after it was presumed "
            "abandoned; this request's changes were not saved."
        )
    session.info["idempotency_attempt"] = current


def _after_commit(session: Session) -> None:
    current = session.info.pop("idempotency_attempt", None)
    if isinstance(current, Attempt):
        current.committed = True


def _after_rollback(session: Session) -> None:
    session.info.pop("idempotency_attempt", None)


def install_commit_marker() -> None:
    listeners: list[tuple[str, Any]] = [
        ("before_commit", _before_commit),
        ("after_commit", _after_commit),
        ("after_rollback", _after_rollback),
    ]
    for name, fn in listeners:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
