"""The demo bank's webhook endpoint: verify with the ``svix`` library, drop repeats, apply in order.

* Verification uses the raw body and the ``webhook-id``/``webhook-timestamp``/``webhook-signature``
  headers, with the signing secret the hub returned when the bank registered its endpoint. A bad or
  stale signature is refused with 400 and changes nothing.
* ``webhook-id`` is the same on every retry of a message: a message seen before is acknowledged
  and ignored.
* Events of the customer's current connection set the status shown in online banking; an event older
  (by ``generatedDate``) than the one that set the status does not overwrite it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from svix.webhooks import Webhook, WebhookVerificationError

from bankfeeds.demo.repository import DemoRepository
from bankfeeds.demo.service import DemoBank
from bankfeeds.errors import BadRequest
from bankfeeds.kit import jsonutil
from bankfeeds.models import DemoCustomer, DemoWebhookMessage
from bankfeeds.sandbox.vault import VaultError

# Deliveries run concurrently, so events can arrive out of order: ``generatedDate`` decides, and
# between two events of the same instant the later step of the lifecycle wins.
_RANK = {"connection.created": 0, "connection.failed": 1, "connection.connected": 2,
         "connection.disconnected": 3, "connection.reconnected": 4, "connection.deleted": 5}
_STATUS_BY_EVENT = {
    "connection.created": "PendingAuth",
    "connection.connected": "Linked",
    "connection.reconnected": "Linked",
    # The hub keeps the connection PendingAuth (a fresh link can finish it); for the customer it
    # is simply not connected: the link they cancelled cannot be used again.
    "connection.failed": "Cancelled",
    "connection.deleted": "Deleted",
}


def receive(bank: DemoBank, body: bytes, headers: Mapping[str, str]) -> bool:
    """Verify and apply one delivery. Returns False for a repeat of a message already applied."""
    with bank.database.unit_of_work() as session:
        endpoint = DemoRepository(session).endpoint(bank.webhook_url)
    if endpoint is None:
        raise BadRequest("This webhook endpoint is not registered with the hub yet.")
    try:
        secret = bank.vault.decrypt(endpoint.signing_secret_encrypted)
    except VaultError:
        raise BadRequest("The endpoint's signing secret cannot be read; register it again.") from None
    try:
        Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    except WebhookVerificationError as exc:
        raise BadRequest(f"The webhook signature is not valid ({exc}).") from None
    except Exception:
        raise BadRequest("The webhook signature headers are malformed.") from None
    event = jsonutil.loads(body)
    if not isinstance(event, dict):
        raise BadRequest("The webhook body is not a JSON object.")
    message_id = headers.get("webhook-id", "")[:200]
    event_type = str(event.get("eventType") or event.get("type") or "")[:100]
    payload = _dict(event.get("payload"))
    generated = _instant(event.get("generatedDate")) or bank.clock.now()

    with bank.database.unit_of_work() as session:
        repo = DemoRepository(session)
        if repo.message_seen(message_id):
            return False
        customer = repo.customer(bank.customer_name, for_update=True)
        summary = event_type
        if customer is not None:
            summary = _apply(repo, customer, event_type, payload, generated) or event_type
        repo.add(DemoWebhookMessage(id=uuid.uuid4(), message_id=message_id, event_type=event_type,
                                    summary=summary[:500], received_at=bank.clock.now()))
    return True


def _apply(repo: DemoRepository, customer: DemoCustomer, event_type: str, payload: dict[str, Any],
           generated: datetime) -> str | None:
    current = str(customer.hub_connection_id) if customer.hub_connection_id else None
    if event_type.startswith("connection."):
        connection = _dict(payload.get("connection"))
        if current is None or str(connection.get("id")) != current:
            if event_type == "connection.deleted" and customer.feed_status == "Disconnected":
                return f"{event_type} · the connection this bank removed (status already shown)"
            return f"{event_type} (an earlier connection; ignored)"
        status = _STATUS_BY_EVENT.get(event_type) or str(connection.get("status") or "")
        if not status:
            return None
        shown_at, shown_rank = customer.feed_status_at, _RANK.get(customer.feed_status_event or "", -1)
        if shown_at is not None and (generated, _RANK.get(event_type, 0)) < (shown_at, shown_rank):
            return f"{event_type} (older than the status shown; ignored)"
        customer.feed_status, customer.feed_status_at = status, generated
        customer.feed_status_event = event_type
        customer.feed_message = _connection_message(event_type, connection)
        return f"{event_type} · connection is {connection.get('status') or status}"
    if event_type.startswith("bankFeeds.sourceAccount."):
        if current is None or str(payload.get("connectionId")) != current:
            return f"{event_type} (an earlier connection; ignored)"
        source = _dict(payload.get("sourceAccount"))
        account = repo.account_by_source_id(customer.id, str(source.get("id")))
        if account is None:
            return None
        account.feed_status = "connected" if event_type.endswith(".connected") else "disconnected"
        return f"{event_type} · {account.name} is {account.feed_status}"
    if event_type.startswith("bankTransactions.write."):
        return f"{event_type} · push {str(payload.get('id'))[:36]} {payload.get('status') or ''}".strip()
    return None


def _connection_message(event_type: str, connection: dict[str, Any]) -> str | None:
    """What the customer reads under the status: plain words, never the hub's error codes."""
    xero = connection.get("integrationKey") == "gbol"
    app = "Xero" if xero else "QuickBooks"
    if event_type in ("connection.connected", "connection.reconnected"):
        if xero:
            return "Xero has access: your transactions go to Xero as bank statements, ready to reconcile."
        return "QuickBooks signed in with your credentials and now downloads your transactions every day."
    if event_type == "connection.created":
        if xero:
            return "You started connecting. Finish in Xero, or click Connect to Xero for a fresh link."
        return ("You started connecting. Finish in QuickBooks with the credentials from our page, "
                "or click Connect to QuickBooks for a fresh link.")
    if event_type == "connection.failed":
        errors = connection.get("dataConnectionErrors")
        detail = ""
        if isinstance(errors, list) and errors and isinstance(errors[-1], dict):
            detail = str(errors[-1].get("errorMessage") or errors[-1].get("statusText") or "")
        if "cancel" in detail.lower() or "denied" in detail.lower():
            return f"You cancelled connecting to {app}. Nothing was shared. Connect again whenever you like."
        return f"Connecting to {app} did not finish. Nothing was shared. Connect again to start over."
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _instant(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
