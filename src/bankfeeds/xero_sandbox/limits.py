"""Xero's rate limits and the sandbox's fault switch, kept in the sandbox process's memory.

The sandbox is one process: every hub worker that calls it meets the same counters. Windows are
rolling and read the sandbox clock, so a test that moves its clock moves the windows too.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

MINUTE_LIMIT = 60
DAY_LIMIT = 5000
CONCURRENT_LIMIT = 5
APP_STATEMENTS_PER_MINUTE = 180
_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)


@dataclass
class Verdict:
    """What the limiter decided: ``problem`` is None when the call may go ahead."""

    problem: str | None
    retry_after: int
    headers: dict[str, str]


class RateLimiter:
    """Per tenant 60 calls a minute, 5000 a day, 5 in flight; POST /Statements 180 a minute per app."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._minute: dict[str, deque[datetime]] = defaultdict(deque)
        self._day: dict[str, deque[datetime]] = defaultdict(deque)
        self._app: dict[str, deque[datetime]] = defaultdict(deque)
        self._in_flight: dict[str, int] = defaultdict(int)

    @staticmethod
    def _prune(window: deque[datetime], now: datetime, span: timedelta) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def _headers(self, tenant: str, app: str) -> dict[str, str]:
        return {
            "X-MinLimit-Remaining": str(max(0, MINUTE_LIMIT - len(self._minute[tenant]))),
            "X-DayLimit-Remaining": str(max(0, DAY_LIMIT - len(self._day[tenant]))),
            "X-AppMinLimit-Remaining": str(max(0, APP_STATEMENTS_PER_MINUTE - len(self._app[app]))),
        }

    @staticmethod
    def _wait(window: deque[datetime], now: datetime, span: timedelta) -> int:
        return max(1, math.ceil((window[0] + span - now).total_seconds()))

    def acquire(self, tenant: str, app: str, now: datetime, *, statements: bool) -> Verdict:
        """Count one call (and hold a concurrency slot) or say which limit it would break."""
        with self._lock:
            minute, day, app_minute = self._minute[tenant], self._day[tenant], self._app[app]
            self._prune(minute, now, _MINUTE)
            self._prune(day, now, _DAY)
            self._prune(app_minute, now, _MINUTE)
            if self.enabled:
                problem, wait = None, 0
                if self._in_flight[tenant] >= CONCURRENT_LIMIT:
                    problem, wait = "concurrent", 1
                elif len(day) >= DAY_LIMIT:
                    problem, wait = "day", self._wait(day, now, _DAY)
                elif len(minute) >= MINUTE_LIMIT:
                    problem, wait = "minute", self._wait(minute, now, _MINUTE)
                elif statements and len(app_minute) >= APP_STATEMENTS_PER_MINUTE:
                    problem, wait = "appminute", self._wait(app_minute, now, _MINUTE)
                if problem is not None:
                    return Verdict(problem, wait, self._headers(tenant, app))
            minute.append(now)
            day.append(now)
            if statements:
                app_minute.append(now)
            self._in_flight[tenant] += 1
            return Verdict(None, 0, self._headers(tenant, app))

    def release(self, tenant: str) -> None:
        with self._lock:
            self._in_flight[tenant] = max(0, self._in_flight[tenant] - 1)

    def reset(self) -> None:
        with self._lock:
            self._minute.clear()
            self._day.clear()
            self._app.clear()
            self._in_flight.clear()


FAULT_KINDS = ("429", "500", "reject-statement")


@dataclass
class Fault:
    kind: str
    remaining: int
    retry_after: int = 1
    tenant_id: str | None = None


@dataclass
class Faults:
    """The fault switch: the next N matching calls (or statements) answer the fault."""

    _items: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._items.append(fault)

    def take(self, kinds: tuple[str, ...], tenant_id: str | None) -> Fault | None:
        """Use up one matching fault, oldest first; None if none is armed."""
        with self._lock:
            for fault in self._items:
                if fault.kind in kinds and fault.remaining > 0 and fault.tenant_id in (None, tenant_id):
                    fault.remaining -= 1
                    self._items = [f for f in self._items if f.remaining > 0]
                    return Fault(fault.kind, 1, fault.retry_after, fault.tenant_id)
            return None

    def armed(self) -> list[Fault]:
        with self._lock:
            return [Fault(f.kind, f.remaining, f.retry_after, f.tenant_id) for f in self._items]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
