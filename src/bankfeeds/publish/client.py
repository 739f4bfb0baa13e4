"""A thin HTTP client for the few Bank Feeds operations ``publish`` needs.

It speaks Codat's wire protocol exactly as the official SDK does (same paths, ``Authorization:
Basic <base64 key>``, JSON bodies, the documented status codes, the ``ErrorMessage`` envelope), so
the command works against Codat and against this hub. It is used instead of ``codat-bankfeeds``
13.0.0 because that SDK turns money into floats: its request serializer writes
``Decimal('12345678901234567.89')`` as ``1.2345678901234568e+16`` and its responses are read with
``json.loads`` into float (and it drops the ``date`` of echoed transactions). Here amounts go out and
come back as exact JSON numbers (simplejson with Decimal).

Retries: connection failures, timeouts, 408, 409 (the same idempotency key still in progress), 429
(after ``Retry-After``) and 5xx, with exponential backoff and jitter within a time budget. A POST
keeps its ``Idempotency-Key`` across retries, so a request that reached the server before the
network cut is answered from the server's record instead of being applied twice; after a 5xx,
which Codat caches against the key, the retry gets a new key (``on_new_key`` is told first), and the
transactions' own deterministic ids keep a write that did land from being written twice.
"""

from __future__ import annotations

import base64
import random
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import simplejson

from bankfeeds.kit import jsonutil
from bankfeeds.kit.http import retry_after

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}
REKEY_STATUSES = {500, 502, 503, 504}
FINAL_STATUSES = {"Success", "Failed", "TimedOut"}


class ApiError(Exception):
    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass
class RetryPolicy:
    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    budget: float = 600.0

    def delays(self) -> Any:
        delay = self.initial
        while True:
            yield delay * (0.5 + random.random() / 2)
            delay = min(delay * self.multiplier, self.maximum)


@dataclass
class PushOperation:
    key: str
    status: str
    status_code: int
    error_message: str | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> PushOperation:
        if not isinstance(data, dict) or "pushOperationKey" not in data or "status" not in data:
            raise ApiError("The server's answer is not a PushOperation", body=data)
        validation = data.get("validation") or {}
        return cls(
            key=str(data["pushOperationKey"]), status=str(data["status"]),
            status_code=int(data.get("statusCode") or 0), error_message=data.get("errorMessage"),
            errors=list(validation.get("errors") or []), warnings=list(validation.get("warnings") or []),
            raw=data,
        )

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES


def auth_header(api_key: str) -> str:
    if api_key.startswith("Basic "):
        return api_key
    return "Basic " + base64.b64encode(api_key.encode()).decode()


class BankFeedsClient:
    def __init__(
        self,
        server_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # A trailing slash would give '//companies' (the 13.0.0 SDK's 404): strip it.
        self.base = server_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.http = httpx.Client(
            base_url=self.base, transport=transport, timeout=timeout,
            headers={"Authorization": auth_header(api_key), "Accept": "application/json",
                     "User-Agent": "bankfeeds-publish/1"},
        )
        # Seconds spent waiting for the server's answers, for the timing breakdown.
        self.network_seconds = 0.0
        self.requests = 0

    def close(self) -> None:
        self.http.close()

    # -- plumbing -----------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, *, content: bytes | None = None, key: str | None = None,
        on_new_key: Callable[[str], None] | None = None, params: dict[str, Any] | None = None,
    ) -> Any:
        deadline = time.monotonic() + self.retry.budget
        delays = self.retry.delays()
        while True:
            headers = {"Content-Type": "application/json"} if content is not None else {}
            if key:
                headers["Idempotency-Key"] = key
            started = time.perf_counter()
            wait: float | None = None
            try:
                response = self.http.request(method, path, content=content, headers=headers, params=params)
            except httpx.TransportError as exc:
                self.network_seconds += time.perf_counter() - started
                problem = f"{type(exc).__name__}: {exc}"
                status = None
            else:
                self.network_seconds += time.perf_counter() - started
                self.requests += 1
                status = response.status_code
                if status < 300:
                    try:
                        return simplejson.loads(response.content, use_decimal=True) if response.content else None
                    except simplejson.JSONDecodeError as exc:
                        raise ApiError(f"{method} {path}: the answer is not JSON ({exc})", status) from None
                body = _error_body(response)
                problem = f"{status} {_message(body) or response.reason_phrase}"
                if status not in RETRY_STATUSES:
                    raise ApiError(f"{method} {path}: {problem}", status, body)
                asked = retry_after(response.headers.get("Retry-After"), wall_now=datetime.now(UTC),
                                    limit=timedelta(seconds=self.retry.budget))
                if asked is not None:
                    wait = asked.total_seconds()
            delay = wait if wait is not None else next(delays)
            if time.monotonic() + delay > deadline:
                raise ApiError(f"{method} {path}: gave up retrying after {self.retry.budget:.0f} s: {problem}", status)
            if key and status in REKEY_STATUSES:
                key = str(uuid.uuid4())
                if on_new_key:
                    on_new_key(key)
            self.sleep(delay)

    # -- operations ---------------------------------------------------------------------------
    def create_bank_transactions(
        self, company: str, connection: str, account: str, body: bytes, idempotency_key: str,
        on_new_key: Callable[[str], None] | None = None,
    ) -> PushOperation:
        path = (f"/companies/{company}/connections/{connection}/push/bankAccounts/"
                f"{_quote(account)}/bankTransactions")
        return PushOperation.from_wire(self._request("POST", path, content=body, key=idempotency_key,
                                                     on_new_key=on_new_key))

    def get_create_operation(self, company: str, push_operation_key: str) -> PushOperation:
        return PushOperation.from_wire(self._request("GET", f"/companies/{company}/push/{push_operation_key}"))

    def list_source_accounts(self, company: str, connection: str) -> list[dict[str, Any]]:
        data = self._request("GET", f"/companies/{company}/connections/{connection}/connectionInfo/bankFeedAccounts")
        return list(data or [])

    def wait_for(self, company: str, op: PushOperation, *, timeout: float = 600.0,
                 on_poll: Callable[[PushOperation], None] | None = None) -> PushOperation:
        """Poll the push operation until it is Success, Failed or TimedOut, or until ``timeout``."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while not op.finished and time.monotonic() < deadline:
            self.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 5.0)
            op = self.get_create_operation(company, op.key)
            if on_poll:
                on_poll(op)
        return op


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _error_body(response: httpx.Response) -> Any:
    try:
        return simplejson.loads(response.content, use_decimal=True)
    except (simplejson.JSONDecodeError, UnicodeDecodeError):
        return response.text[:500]


def _message(body: Any) -> str | None:
    if isinstance(body, dict):
        text = body.get("error") or body.get("message")
        details = (body.get("validation") or {}).get("errors") or []
        if details:
            text = f"{text}: " + "; ".join(str(d.get("message")) for d in details[:3])
        return str(text) if text else None
    return str(body) if body else None


def dumps(body: dict[str, Any]) -> bytes:
    return jsonutil.dumps(body).encode("utf-8")
