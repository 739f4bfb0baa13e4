"""Wake workers as soon as work is committed, instead of at their next poll.

A transaction that makes work due calls ``mark(session, topic)``. When it commits, the worker
lanes of this process that wait on that topic are woken, and on PostgreSQL a ``NOTIFY`` sent
inside the transaction wakes those of the other processes (PostgreSQL delivers it on commit
only, never on rollback). Polling stays the fallback: a lost wake-up costs one poll interval.
Topics keep a commit from waking lanes it gives no work to.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

log = logging.getLogger("bankfeeds.worker")

CHANNEL = "bankfeeds_work"
_FLAG = "bankfeeds.work_due"

_lock = threading.Lock()
_wakers: dict[str, set[threading.Event]] = {}


def register(wake: threading.Event, topics: tuple[str, ...]) -> None:
    with _lock:
        for topic in topics:
            _wakers.setdefault(topic, set()).add(wake)


def unregister(wake: threading.Event) -> None:
    with _lock:
        for events in _wakers.values():
            events.discard(wake)


def wake_local(topics: set[str] | tuple[str, ...]) -> None:
    with _lock:
        wakers = {w for t in topics for w in _wakers.get(t, ())}
    for w in wakers:
        w.set()


def mark(session: Session, topic: str) -> None:
    """Work on ``topic`` becomes due when this session's transaction commits."""
    session.info.setdefault(_FLAG, set()).add(topic)


@event.listens_for(Session, "before_commit")
def _notify_other_processes(session: Session) -> None:
    topics = session.info.get(_FLAG)
    if topics and session.get_bind().dialect.name == "postgresql":
        for topic in sorted(topics):
            session.execute(text("SELECT pg_notify(:channel, :topic)"), {"channel": CHANNEL, "topic": topic})


@event.listens_for(Session, "after_commit")
def _wake_this_process(session: Session) -> None:
    topics = session.info.pop(_FLAG, None)
    if topics:
        wake_local(topics)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_FLAG, None)


class Listener:
    """LISTENs on PostgreSQL in a thread and wakes this process's lanes on each NOTIFY."""

    def __init__(self, url: str) -> None:
        self.conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bankfeeds-listen", daemon=True)
        self._conn: Any = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=1.0, stop_after=1):
                            wake_local((notify.payload,))
            except Exception as exc:  # the database restarts: poll meanwhile, listen again
                log.warning("worker wake-up listener lost its connection (%s); retrying", type(exc).__name__)
                self._stop.wait(2.0)
