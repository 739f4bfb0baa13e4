"""The one HTTP client for every call the hub makes to Xero.

It goes only to the URLs in settings (``BANKFEEDS_XERO_*``), so it cannot be pointed elsewhere
by data: path ids are checked to be UUIDs before they reach a URL. Calls on a tenant's data take
a slot on the tenant's budget first (``budget.py``); ``POST /Statements`` also on the app's
statements budget. What Xero answers becomes one of the errors below, so callers decide by kind:

* ``RateLimited(retry_at)``: Xero said 429 (its ``Retry-After`` honoured, and every process
  holds off that tenant until then), or the shared budget has no room before ``retry_at``;
* ``Transient``: a 5xx, a timeout or a dropped connection: retry with backoff;
* ``InvalidGrant``: the refresh token (or code) is no longer good: the user must link again;
* ``Unauthorized``: Xero refused the access token (401) or the scopes (403 without a problem);
* ``XeroProblem``: an ``application/problem+json`` refusal (``type``, ``title``, ``detail``),
  with ``DuplicateStatement`` for 409 ``duplicate-statement``.

Tokens are never logged; neither are bodies (they hold customers' transactions).
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import simplejson

from bankfeeds.config import Settings
from bankfeeds.kit import jsonutil
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.db import Database
from bankfeeds.kit.http import retry_after
from bankfeeds.platforms.gbol import budget as budgets

log = logging.getLogger("bankfeeds.xero")

SCOPE = "offline_access accounting.settings.read bankfeeds"
CALLBACK_PATH = "/link/xero/callback"
BANKFEEDS = "/bankfeeds.xro/1.0"
ACCOUNTING = "/api.xro/2.0"
PAGE_SIZE = 100
# Retry-After when a 429 carries none (Xero's minute window).
DEFAULT_RETRY_AFTER = 60
# A longer Retry-After is cut to this (Xero's longest window is its day limit).
MAX_RETRY_AFTER = timedelta(days=1)


class XeroError(Exception):
    """Anything that kept a Xero call from succeeding."""


class InvalidGrant(XeroError):
    """The authorization code or refresh token is spent, revoked or unknown."""


class Unauthorized(XeroError):
    """Xero refused the access token or its scopes."""


class Transient(XeroError):
    """A 5xx, a timeout or a broken connection: worth retrying."""

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class RateLimited(XeroError):
    def __init__(self, retry_at: datetime, message: str) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class XeroProblem(XeroError):
    """A refusal in Xero's problem+json shape."""

    def __init__(self, status: int, type_: str, title: str, detail: str, body: Any = None) -> None:
        super().__init__(f"Xero refused the request ({status} {type_}): {detail or title}")
        self.status = status
        self.type = type_
        self.title = title
        self.detail = detail
        self.body = body

    def as_error(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}


class DuplicateStatement(XeroProblem):
    """409 ``duplicate-statement``: Xero already holds this statement."""


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: datetime
    scope: str

    def __repr__(self) -> str:  # never print a token
        return f"TokenSet(expires_at={self.expires_at.isoformat()}, scope={self.scope!r})"


@dataclass(frozen=True)
class XeroTenant:
    connection_id: str
    tenant_id: str
    tenant_name: str
    tenant_type: str


@dataclass(frozen=True)
class Access:
    """What a call on one organisation's data needs: a live access token and the tenant id."""

    token: str
    tenant_id: str

    def __repr__(self) -> str:
        return f"Access(tenant_id={self.tenant_id!r})"


def redirect_uri(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + CALLBACK_PATH


def new_http(settings: Settings, **hooks: Any) -> httpx.Client:
    """The HTTP client of a ``XeroApi`` made without one (keep-alive, no redirects followed).
    Tests wrap it to hold every request against Xero's specs."""
    return httpx.Client(timeout=settings.xero_timeout_seconds, follow_redirects=False, **hooks)


def _uuid(raw: str, what: str) -> str:
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        raise XeroError(f"{what} '{raw}' is not a Xero id") from None


class XeroApi:
    def __init__(self, settings: Settings, database: Database, clock: Clock, *,
                 http: httpx.Client | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.budget = budgets.Budget(database, clock, settings)
        self.http = http or new_http(settings)
        self._owns_http = http is None
        self.api_url = settings.xero_api_url.rstrip("/")

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    # -- identity (no tenant budget) -------------------------------------------------------------

    def authorize_url(self, *, state: str, code_challenge: str) -> str:
        query = urlencode({
            "response_type": "code", "client_id": self.settings.xero_client_id,
            "redirect_uri": redirect_uri(self.settings), "scope": SCOPE, "state": state,
            "code_challenge": code_challenge, "code_challenge_method": "S256",
        })
        return f"{self.settings.xero_authorize_url}?{query}"

    def exchange_code(self, code: str, code_verifier: str) -> TokenSet:
        return self._token({"grant_type": "authorization_code", "code": code,
                            "redirect_uri": redirect_uri(self.settings), "code_verifier": code_verifier})

    def refresh(self, refresh_token: str) -> TokenSet:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def revoke(self, refresh_token: str) -> None:
        response = self._send("POST", self.settings.xero_revoke_url, data={"token": refresh_token},
                              headers=self._client_auth())
        if response.status_code >= 500:
            raise Transient(f"Xero's revocation endpoint answered {response.status_code}")
        if response.status_code >= 400:
            raise XeroError(f"Xero refused to revoke the token ({response.status_code})")

    def connections(self, access_token: str) -> list[XeroTenant]:
        response = self._send("GET", f"{self.api_url}/connections", headers=self._bearer(access_token))
        body = self._json(self._check(response))
        if not isinstance(body, list):
            raise Transient("Xero's /connections answer is not a list")
        return [
            XeroTenant(connection_id=str(t.get("id")), tenant_id=str(t.get("tenantId")),
                       tenant_name=str(t.get("tenantName") or ""), tenant_type=str(t.get("tenantType") or ""))
            for t in body if isinstance(t, dict) and t.get("tenantId")
        ]

    def delete_connection(self, access_token: str, connection_id: str) -> None:
        url = f"{self.api_url}/connections/{_uuid(connection_id, 'Connection id')}"
        response = self._send("DELETE", url, headers=self._bearer(access_token))
        if response.status_code != 404:
            self._check(response)

    # -- accounting -------------------------------------------------------------------------------

    def organisation(self, access: Access) -> dict[str, Any]:
        body = self._tenant_call("GET", ACCOUNTING + "/Organisation", access)
        orgs = body.get("Organisations") if isinstance(body, dict) else None
        if not orgs or not isinstance(orgs[0], dict):
            raise Transient("Xero's Organisation answer holds no organisation")
        return dict(orgs[0])

    def accounts(self, access: Access) -> list[dict[str, Any]]:
        body = self._tenant_call("GET", ACCOUNTING + "/Accounts", access)
        accounts = body.get("Accounts") if isinstance(body, dict) else None
        return [a for a in accounts or [] if isinstance(a, dict)]

    # -- bank feeds -------------------------------------------------------------------------------

    def create_feed_connection(self, access: Access, item: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """The created (``PENDING``) or refused (``REJECTED`` with ``error``) feed connection."""
        body = self._tenant_call("POST", BANKFEEDS + "/FeedConnections", access, json={"items": [item]},
                                 idempotency_key=idempotency_key, item_errors=True)
        return _first_item(body)

    def get_feed_connection(self, access: Access, feed_id: str) -> dict[str, Any] | None:
        """The feed connection, or None once it is gone from Xero (removed there, or deleted)."""
        try:
            body = self._tenant_call("GET", f"{BANKFEEDS}/FeedConnections/{_uuid(feed_id, 'Feed connection id')}",
                                     access)
        except XeroProblem as exc:
            if exc.type in ("bank-feed-not-found", "feed-not-found-or-already-deleted") or exc.status == 404:
                return None
            raise
        return body if isinstance(body, dict) else None

    def list_feed_connections(self, access: Access) -> list[dict[str, Any]]:
        """Every feed connection this app holds in the organisation (all pages)."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self._tenant_call("GET", BANKFEEDS + "/FeedConnections", access,
                                     params={"page": page, "pageSize": PAGE_SIZE})
            batch = [i for i in (body.get("items") or []) if isinstance(i, dict)] if isinstance(body, dict) else []
            items.extend(batch)
            pagination = body.get("pagination") if isinstance(body, dict) else None
            page_count = int(pagination.get("pageCount") or 1) if isinstance(pagination, dict) else 1
            if page >= page_count or not batch:
                return items
            page += 1

    def delete_feed_connections(self, access: Access, feed_ids: Sequence[str], *,
                                idempotency_key: str) -> list[dict[str, Any]]:
        items = [{"id": _uuid(f, "Feed connection id")} for f in feed_ids]
        body = self._tenant_call("POST", BANKFEEDS + "/FeedConnections/DeleteRequests", access,
                                 json={"items": items}, idempotency_key=idempotency_key, item_errors=True)
        return [i for i in (body.get("items") or []) if isinstance(i, dict)] if isinstance(body, dict) else []

    def create_statement(self, access: Access, statement: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """The accepted statement (``PENDING``). 409 ``duplicate-statement`` raises ``DuplicateStatement``."""
        body = self._tenant_call("POST", BANKFEEDS + "/Statements", access, json={"items": [statement]},
                                 idempotency_key=idempotency_key, statements=True)
        return _first_item(body)

    def get_statement(self, access: Access, statement_id: str) -> dict[str, Any]:
        body = self._tenant_call("GET", f"{BANKFEEDS}/Statements/{_uuid(statement_id, 'Statement id')}", access)
        if not isinstance(body, dict):
            raise Transient("Xero's statement answer is not an object")
        return body

    # -- plumbing ---------------------------------------------------------------------------------

    def _tenant_call(
        self, method: str, path: str, access: Access, *, json: Any = None, params: dict[str, Any] | None = None,
        idempotency_key: str | None = None, statements: bool = False, item_errors: bool = False,
    ) -> Any:
        limits = budgets.limits_for(self.settings, access.tenant_id, statements=statements)
        try:
            slot = self.budget.acquire(limits)
        except budgets.OverBudget as exc:
            raise RateLimited(exc.retry_at, str(exc)) from None
        headers = {**self._bearer(access.token), "Xero-Tenant-Id": access.tenant_id}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        content = None
        if json is not None:
            headers["Content-Type"] = "application/json"
            content = jsonutil.dumps(json).encode("utf-8")
        try:
            response = self._send(method, self.api_url + path, headers=headers, params=params, content=content)
        finally:
            self.budget.release(slot)
        if response.status_code == 429:
            retry_at = self._retry_at(response) or self.clock.now() + timedelta(seconds=DEFAULT_RETRY_AFTER)
            problem = response.headers.get("X-Rate-Limit-Problem", "")
            key = budgets.APP_STATEMENTS if problem.lower().startswith("app") else budgets.tenant_key(access.tenant_id)
            self.budget.block(key, retry_at)
            raise RateLimited(retry_at, f"Xero is rate limiting ({problem or 'unspecified'} limit)")
        if item_errors and response.status_code == 400:
            body = self._json(response)
            if isinstance(body, dict) and isinstance(body.get("items"), list):
                return body  # per-item refusals (REJECTED with error) are the caller's to read
        if response.status_code == 409 and statements:
            body = self._json(response)
            raise DuplicateStatement(409, "duplicate-statement", "Duplicate statement",
                                     "Xero already holds this statement.", body)
        return self._json(self._check(response))

    def _token(self, form: dict[str, str]) -> TokenSet:
        now = self.clock.now()
        response = self._send("POST", self.settings.xero_token_url, data=form, headers=self._client_auth())
        if response.status_code >= 500:
            raise Transient(f"Xero's token endpoint answered {response.status_code}")
        body = self._json(response) if response.content else {}
        if response.status_code == 400 and isinstance(body, dict) and body.get("error") == "invalid_grant":
            raise InvalidGrant("Xero no longer accepts this grant; the organisation must be connected again")
        if response.status_code >= 400 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise XeroError(f"Xero's token endpoint refused the request ({response.status_code} {error or ''})".strip())
        try:
            return TokenSet(
                access_token=str(body["access_token"]), refresh_token=str(body["refresh_token"]),
                expires_at=now + timedelta(seconds=int(body.get("expires_in") or 1800)),
                scope=str(body.get("scope") or ""),
            )
        except (KeyError, TypeError, ValueError):
            raise XeroError("Xero's token answer lacks the tokens") from None

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise Transient(f"Xero did not answer {method} {httpx.URL(url).path} in time") from None
        except httpx.TransportError as exc:
            raise Transient(f"Could not reach Xero ({type(exc).__name__})") from None

    def _check(self, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status < 400:
            return response
        if status >= 500:
            raise Transient(f"Xero answered {status}", self._retry_at(response))
        body = None
        if response.headers.get("content-type", "").split(";")[0].strip() in (
                "application/problem+json", "application/json"):
            try:
                body = simplejson.loads(response.content, use_decimal=True)
            except ValueError:
                body = None
        if isinstance(body, dict) and body.get("type"):
            raise XeroProblem(status, str(body.get("type")), str(body.get("title") or ""),
                              str(body.get("detail") or ""), body)
        if status in (401, 403):
            raise Unauthorized(f"Xero refused the access ({status})")
        raise XeroProblem(status, "invalid-request", f"HTTP {status}", response.reason_phrase, body)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return simplejson.loads(response.content, use_decimal=True)
        except ValueError:
            raise Transient(f"Xero answered {response.status_code} with a body that is not JSON") from None

    def _retry_at(self, response: httpx.Response) -> datetime | None:
        # An HTTP date is real time; the wait is kept, measured on the hub's clock.
        wait = retry_after(response.headers.get("Retry-After"), wall_now=datetime.now(UTC), limit=MAX_RETRY_AFTER)
        return None if wait is None else self.clock.now() + wait

    def _client_auth(self) -> dict[str, str]:
        pair = f"{self.settings.xero_client_id}:{self.settings.xero_client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    @staticmethod
    def _bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def _first_item(body: Any) -> dict[str, Any]:
    items = body.get("items") if isinstance(body, dict) else None
    if not items or not isinstance(items[0], dict):
        raise Transient("Xero's answer holds no item")
    return dict(items[0])
