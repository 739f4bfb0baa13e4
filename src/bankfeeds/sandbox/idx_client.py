"""The sandbox's client of the IDX API, called exactly as QuickBooks calls it.

``Authorization: Basic base64(username:password)`` with the credentials from the hosted link page,
``X-Partner-Key: base64(partnerKey)``. Accounts and transactions come back in Intuit's shapes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from bankfeeds.kit import jsonutil
from bankfeeds.kit.http import retry_after
from bankfeeds.sandbox.directory import Institution

TIMEOUT_SECONDS = 20.0
MAX_PAGES = 200

HttpFactory = Callable[[], httpx.Client]


def default_http() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)


class IdxError(Exception):
    """A pull failed; ``message`` is what the sandbox shows the user."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class IdxUnauthorized(IdxError):
    pass


class IdxThrottled(IdxError):
    """429: the bank paused calls (sign-ins) for a while; ``retry_after`` seconds, from Retry-After."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> int:
    """Whole seconds to wait; 15 minutes when the bank did not say (or said something unreadable)."""
    wait = retry_after(response.headers.get("retry-after"), wall_now=datetime.now(UTC), limit=timedelta(days=1))
    return 900 if wait is None else int(wait.total_seconds())


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class IdxMoney(_Loose):
    currency: str | None = None
    amount: str | int | Decimal | None = None


class IdxDisplayInfo(_Loose):
    displayName: str | None = None
    description: str | None = None
    nickname: str | None = None


class IdxAccount(_Loose):
    id: str
    accountDisplayInfo: IdxDisplayInfo | None = None
    accountType: str | None = None
    accountNumber: str | None = None
    primaryCurrency: str | None = None
    depositAccountInfo: dict[str, Any] | None = None
    creditCardAccountInfo: dict[str, Any] | None = None
    cashCardAccountInfo: dict[str, Any] | None = None
    lineOfCreditAccountInfo: dict[str, Any] | None = None
    loanAccountInfo: dict[str, Any] | None = None
    status: str | None = None

    @property
    def name(self) -> str:
        info = self.accountDisplayInfo
        return (info.displayName if info and info.displayName else None) or f"Account {self.id}"

    @property
    def mask(self) -> str:
        digits = "".join(ch for ch in (self.accountNumber or "") if ch.isalnum())
        return f"…{digits[-4:]}" if digits else ""

    @property
    def kind(self) -> str:
        """deposit, creditcard, cashcard, loan or lineofcredit."""
        return (self.accountType or "deposit").lower()

    def balance(self) -> Decimal | None:
        for info, key in (
            (self.depositAccountInfo, "depositBalance"),
            (self.creditCardAccountInfo, "creditCardBalance"),
            (self.cashCardAccountInfo, "cashCardBalance"),
            (self.lineOfCreditAccountInfo, "lineOfCreditBalance"),
        ):
            if info and isinstance(info.get(key), dict):
                current = info[key].get("currentBalance")
                if isinstance(current, dict):
                    return to_decimal(current.get("amount"))
        if self.loanAccountInfo and isinstance(self.loanAccountInfo.get("loanBalance"), dict):
            return to_decimal(self.loanAccountInfo["loanBalance"].get("amount"))
        return None


class IdxTransaction(_Loose):
    transactionId: str
    accountId: str | None = None
    transactionDate: str | None = None
    postedDate: str | None = None
    transactionDescription: str | None = None
    payeeName: str | None = None
    amount: IdxMoney | None = None
    transactionValueType: str | None = None
    status: str | None = None
    modifiedDate: str | None = None

    def booked_on(self) -> date | None:
        return to_date(self.transactionDate) or to_date(self.postedDate)

    def signed_amount(self) -> Decimal | None:
        return to_decimal(self.amount.amount) if self.amount else None


def to_decimal(raw: object) -> Decimal | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def to_date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
        except ValueError:
            return None


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


class IdxClient:
    def __init__(self, institution: Institution, username: str, password: str,
                 http: HttpFactory = default_http) -> None:
        self.institution = institution
        self._headers = {
            "Authorization": "Basic " + _b64(f"{username}:{password}"),
            "X-Partner-Key": _b64(institution.partner_key),
            "Accept": "application/json",
            "User-Agent": "bankfeeds-qbo-sandbox/1.0",
        }
        self._http = http

    def accounts(self) -> list[IdxAccount]:
        return [self._parse(item, IdxAccount, "account") for item in self._pages("/accounts", {})]

    def transactions(
        self, account_id: str, start: date, end: date, *, feed_start_date: date | None = None,
        target_account_id: str | None = None, target_account_name: str | None = None,
    ) -> list[IdxTransaction]:
        """Transactions *modified* in [start, end): the IDX API filters on modifiedDate.

        The optional ``X-Feed-Start-Date`` / ``X-Target-Account-*`` headers tell the bank how the
        account was linked (what the hub records when this pull connects the account).
        """
        path = f"/accounts/{quote(account_id, safe='')}/transactions"
        params = {"startDate": start.isoformat(), "endDate": end.isoformat()}
        extra = {}
        if feed_start_date is not None:
            extra["X-Feed-Start-Date"] = feed_start_date.isoformat()
        if target_account_id:
            extra["X-Target-Account-Id"] = _header_text(target_account_id, 200)
        if target_account_name:
            extra["X-Target-Account-Name"] = _header_text(target_account_name, 500)
        items = self._pages(path, params, extra)
        return [self._parse(item, IdxTransaction, "transaction") for item in items]

    # -- plumbing ------------------------------------------------------------------------------
    def _pages(self, path: str, params: dict[str, str], extra: dict[str, str] | None = None) -> list[Any]:
        items: list[Any] = []
        page = 1
        with self._http() as http:
            while page <= MAX_PAGES:
                query = dict(params)
                if page > 1:
                    query["page"] = str(page)
                body = self._get(http, path, query, extra or {})
                results = body.get("results") if isinstance(body, dict) else None
                if not isinstance(results, list):
                    raise IdxError(f"{self.institution.name} answered {path} without a list of results.")
                items.extend(results)
                total = body.get("totalResults")
                if not results or not isinstance(total, int) or len(items) >= total:
                    return items
                page += 1
        raise IdxError(f"{self.institution.name} returned more than {MAX_PAGES} pages for {path}.")

    def _get(self, http: httpx.Client, path: str, params: dict[str, str], extra: dict[str, str]) -> Any:
        url = self.institution.idx_url.rstrip("/") + path
        name = self.institution.name
        try:
            response = http.get(url, params=params, headers={**self._headers, **extra})
        except httpx.HTTPError as exc:
            raise IdxError(f"{name} could not be reached ({type(exc).__name__}); try again later.") from None
        if response.status_code == 200:
            try:
                return jsonutil.loads(response.content)
            except Exception:
                raise IdxError(f"{name} sent a response that is not JSON.", 200) from None
        detail = _error_text(response)
        if response.status_code == 401:
            raise IdxUnauthorized(
                f"{name} rejected the sign-in (401): the user ID or password is not valid any more. "
                "The bank may have disconnected QuickBooks or revoked these credentials; "
                "link the account again with new credentials." + (f" ({detail})" if detail else ""),
                401,
            )
        if response.status_code == 403:
            raise IdxError(f"{name} refused access (403): {detail or 'QuickBooks is not allowed to connect'}.",
                           403)
        if response.status_code == 404:
            raise IdxError(f"{name} no longer offers this account (404){': ' + detail if detail else ''}.", 404)
        if response.status_code == 429:
            wait = _retry_after(response)
            raise IdxThrottled(f"{name} is rate limiting QuickBooks (429); it will be tried again in about "
                               f"{max(1, -(-wait // 60))} minute(s).", wait)
        raise IdxError(f"{name} answered with an error ({response.status_code})"
                       + (f": {detail}" if detail else "") + "; try again later.", response.status_code)

    def _parse(self, item: Any, model: type[Any], what: str) -> Any:
        try:
            return model.model_validate(item)
        except ValidationError:
            raise IdxError(f"{self.institution.name} sent a {what} QuickBooks cannot read.") from None


def _header_text(value: str, limit: int) -> str:
    """Header values are ASCII here: anything else is dropped rather than mangled."""
    return "".join(ch for ch in value if 32 <= ord(ch) < 127)[:limit]


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])[:300]
    return ""
