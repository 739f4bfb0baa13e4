"""The one clock. Everything that needs "now" asks a Clock, so tests and demos can move time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """System time plus an offset that only grows: demo mode advances it to show daily pulls.

    ``on_advance`` is told each new offset (under the lock, so in order): demo mode stores it.
    """

    def __init__(self, offset: timedelta = timedelta(0),
                 on_advance: Callable[[timedelta], None] | None = None) -> None:
        if offset < timedelta(0):
            raise ValueError("the clock only moves forward")
        self._offset = offset
        self._on_advance = on_advance
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            if self._on_advance is not None:
                self._on_advance(self._offset + delta)
            self._offset += delta

    @property
    def offset(self) -> timedelta:
        return self._offset


class FrozenClock:
    """A clock that stands still until told to move. For tests."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = at.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = at.astimezone(UTC)


def utc(dt: datetime) -> datetime:
    """Make a datetime read back from storage aware (SQLite drops the zone)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
