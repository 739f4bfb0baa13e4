"""How a bank's backend calls the bank feeds hub: Codat's Bank Feeds API, over HTTPS, with an API key.

Every call sends ``Authorization: Basic base64(apiKey)``. POSTs send an ``Idempotency-Key`` so a
retried call (after a timeout, say) is answered once. Amounts go out and come back as exact JSON
numbers (never floats). Errors come back in Codat's ErrorMessage envelope; ``HubError`` carries the
status and the ``error`` text.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from bankfeeds.kit import jsonutil

TIMEOUT_SECONDS = 30.0

HttpFactory = Callable[[], httpx.Client]


def default_http() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)


class HubError(Exception):
    def __init__(self, status_code: int | None, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.body = body


class HubClient:
    """The demo bank's client of the hub's public API (``bankfeeds publish`` has its own, with a
    retry policy: ``bankfeeds.publish.client.BankFeedsClient``)."""

    def __init__(self, base_url: str, api_key: str, http: HttpFactory = default_http) -> None:
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(api_key.encode("utf-8")).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        self._http = http

    # -- companies and connections -------------------------------------------------------------
    def create_company(self, name: str, description: str | None = None) -> dict[str, Any]:
        """create-company (200)."""
        body: dict[str, Any] = {"name": name}
        if description:
            body["description"] = description
        return self._object(self._call("POST", "/companies", body, ok=(200,)))

    def get_company(self, company_id: str) -> dict[str, Any] | None:
        """get-company (200), or None once it is gone (404)."""
        found = self._call("GET", f"/companies/{company_id}", ok=(200,), missing_ok=True)
        return None if found is None else self._object(found)

    def create_connection(self, company_id: str, platform_key: str = "hcws") -> dict[str, Any]:
        """create-connection (200): status PendingAuth and a linkUrl for the customer."""
        body = {"platformKey": platform_key}
        return self._object(self._call("POST", f"/companies/{company_id}/connections", body, ok=(200,)))

    def get_connection(self, company_id: str, connection_id: str) -> dict[str, Any] | None:
        """get-connection (200): each call returns a linkUrl with a fresh one-time password. None if gone."""
        found = self._call("GET", f"/companies/{company_id}/connections/{connection_id}", ok=(200,),
                           missing_ok=True)
        return None if found is None else self._object(found)

    def delete_connection(self, company_id: str, connection_id: str) -> None:
        """delete-connection (200, empty body): deauthorizes the feed at once."""
        self._call("DELETE", f"/companies/{company_id}/connections/{connection_id}", ok=(200,), missing_ok=True)

    # -- source accounts -----------------------------------------------------------------------
    def create_source_accounts(
        self, company_id: str, connection_id: str, accounts: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """create-batch-source-account: 201 all created, 207 mixed, 409 all already there. One item per account."""
        path = f"/companies/{company_id}/connections/{connection_id}/connectionInfo/bankFeedAccounts/batch"
        result = self._call("POST", path, accounts, ok=(201, 207, 409))
        if not isinstance(result, list):
            raise HubError(None, "The hub answered the batch of source accounts without a list.", result)
        return result

    def list_source_accounts(self, company_id: str, connection_id: str) -> list[dict[str, Any]]:
        path = f"/companies/{company_id}/connections/{connection_id}/connectionInfo/bankFeedAccounts"
        result = self._call("GET", path, ok=(200,))
        return result if isinstance(result, list) else []

    # -- transactions --------------------------------------------------------------------------
    def create_bank_transactions(
        self, company_id: str, connection_id: str, account_id: str, transactions: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """create-bank-transactions (200 with a push operation: Pending, Success or Failed)."""
        path = (f"/companies/{company_id}/connections/{connection_id}/push/bankAccounts/{account_id}"
                "/bankTransactions")
        body = {"accountId": account_id, "transactions": transactions}
        return self._object(self._call("POST", path, body, ok=(200,)))

    # -- webhooks ------------------------------------------------------------------------------
    def list_webhook_consumers(self) -> list[dict[str, Any]]:
        result = self._call("GET", "/webhooks", ok=(200,))
        return list(result.get("results", [])) if isinstance(result, dict) else []

    def create_webhook_consumer(self, url: str, event_types: list[str]) -> dict[str, Any]:
        """create-webhook-consumer (201); the hub adds ``signingSecret`` (shown once) to the response."""
        body = {"url": url, "eventTypes": event_types}
        return self._object(self._call("POST", "/webhooks", body, ok=(201,)))

    def delete_webhook_consumer(self, consumer_id: str) -> None:
        self._call("DELETE", f"/webhooks/{consumer_id}", ok=(204,), missing_ok=True)

    # -- plumbing ------------------------------------------------------------------------------
    @staticmethod
    def _object(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise HubError(None, "The hub answered without a JSON object.", value)
        return value

    def _call(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...],
              missing_ok: bool = False) -> Any:
        headers = dict(self._headers)
        content = None
        if body is not None:
            content = jsonutil.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        try:
            with self._http() as http:
                response = http.request(method, self.base_url + path, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise HubError(None, f"The bank feeds hub could not be reached ({type(exc).__name__}).") from None
        if response.status_code == 404 and missing_ok:
            return None
        parsed: Any = None
        if response.content:
            try:
                parsed = jsonutil.loads(response.content)
            except Exception:
                parsed = None
        if response.status_code not in ok:
            message = parsed.get("error") if isinstance(parsed, dict) else None
            raise HubError(response.status_code,
                           f"{method} {path} failed with {response.status_code}"
                           + (f": {message}" if message else ""), parsed)
        return parsed
