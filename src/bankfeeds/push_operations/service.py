"""Push operations: one per create-bank-transactions request, and their lifecycle.

    Pending --(delivered / validated and stored)--> Success
    Pending --(platform rules failed)-------------> Failed      (statusCode 400)
    Pending --(past timeoutInMinutes)-------------> TimedOut    (statusCode 504; only the status changes)

``statusCode`` follows the status: 202 while Pending, 200 on Success, 400 on Failed, 504 on
TimedOut. Reaching Success records ``bankTransactions.write.successful``; Failed and TimedOut
record ``bankTransactions.write.unsuccessful`` (Codat's DataTypeWriteWebhook payload).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from bankfeeds.companies import service as companies
from bankfeeds.config import Settings
from bankfeeds.errors import NotFound, ValidationItem
from bankfeeds.kit import driver_sql, query
from bankfeeds.kit.clock import Clock
from bankfeeds.kit.jsonutil import format_datetime
from bankfeeds.kit.pagination import PageParams
from bankfeeds.models import Company, EventType, PushOperation, PushOperationStatus
from bankfeeds.push_operations.repository import FIELDS, PushOperationRepository
from bankfeeds.webhooks import events
from bankfeeds.webhooks.events import WriteEventType
from bankfeeds.webhooks.schemas import DataTypeWritePayload

STATUS_CODES = {
    PushOperationStatus.PENDING: 202, PushOperationStatus.SUCCESS: 200,
    PushOperationStatus.FAILED: 400, PushOperationStatus.TIMED_OUT: 504,
}
BANK_TRANSACTIONS = "bankTransactions"


def _items(raw: list[Any] | None) -> list[dict[str, Any]]:
    """The stored validation items (``ValidationItem.to_wire`` dicts) as wire items (``ValidationItemOut``),
    an absent key read as null."""
    if not raw:
        return []
    return [{"itemId": i.get("itemId"), "message": i.get("message"), "validatorName": i.get("validatorName")}
            for i in raw]


def as_wire(op: PushOperation) -> dict[str, Any]:
    """The operation as the wire carries it: ``PushOperationOut``'s fields by their wire names, in its
    order, its date-times as their text (``wire(PushOperationOut(...))`` rendered;
    tests/push_operations/test_wire.py holds the two equal). Built as a dict of plain JSON
    (``PlainJSONResponse``): every push answers with one, and pydantic's models and dump cost a
    tenth of a small push's CPU."""
    validation = op.validation or {}
    changes = None
    if op.changes is not None:
        changes = [
            {"type": c["type"], "recordRef": {"id": c["recordRef"]["id"], "dataType": c["recordRef"].get("dataType")},
             "attachmentId": c.get("attachmentId")}
            for c in op.changes
        ]
    return {
        "changes": changes,
        "dataType": op.data_type,
        "companyId": str(op.company_id),
        "pushOperationKey": str(op.key),
        "dataConnectionKey": str(op.connection_id),
        "requestedOnUtc": format_datetime(op.requested_at),
        "completedOnUtc": None if op.completed_at is None else format_datetime(op.completed_at),
        "timeoutInMinutes": op.timeout_in_minutes,
        "timeoutInSeconds": None,
        "status": PushOperationStatus(op.status),
        "errorMessage": op.error_message,
        "validation": {"errors": _items(validation.get("errors")), "warnings": _items(validation.get("warnings"))},
        "statusCode": op.status_code,
    }


def start(
    session: Session,
    clock: Clock,
    *,
    company_id: uuid.UUID,
    connection_id: uuid.UUID,
    source_account_id: str,
    timeout_in_minutes: int | None,
    transaction_count: int,
) -> PushOperation:
    """A new Pending operation, not yet written: ``save`` writes its row once, with the outcome set by
    ``succeed`` or ``fail`` (or as it stands)."""
    now = clock.now()
    # Filled as a loaded row is (its dict), not attribute by attribute through the ORM's
    # instrumentation: it is written by a compiled INSERT (``save``), never flushed.
    return driver_sql.filled(PushOperation, dict(
        key=uuid.uuid4(),
        company_id=company_id,
        connection_id=connection_id,
        source_account_id=source_account_id,
        data_type=BANK_TRANSACTIONS,
        status=PushOperationStatus.PENDING,
        status_code=STATUS_CODES[PushOperationStatus.PENDING],
        requested_at=now,
        completed_at=None,
        timeout_in_minutes=timeout_in_minutes,
        timeout_at=now + timedelta(minutes=timeout_in_minutes) if timeout_in_minutes is not None else None,
        error_message=None,
        validation={"errors": [], "warnings": []},
        changes=None,
        transaction_count=transaction_count,
    ))


def save(session: Session, op: PushOperation) -> None:
    """Write a new operation from ``start`` in the session's transaction, once its outcome is set."""
    PushOperationRepository(session).insert(op)


def _validation(errors: list[ValidationItem], warnings: list[ValidationItem]) -> dict[str, Any]:
    return {"errors": [i.to_wire() for i in errors], "warnings": [i.to_wire() for i in warnings]}


def set_findings(op: PushOperation, errors: list[ValidationItem], warnings: list[ValidationItem]) -> None:
    op.validation = _validation(errors, warnings)


def succeed(
    session: Session, clock: Clock, settings: Settings, company: Company, op: PushOperation, record_id: str | None
) -> None:
    op.status = PushOperationStatus.SUCCESS
    op.status_code = STATUS_CODES[PushOperationStatus.SUCCESS]
    op.completed_at = clock.now()
    if record_id is not None:
        op.changes = [{"type": "Created", "recordRef": {"id": record_id, "dataType": op.data_type},
                       "attachmentId": None}]
    else:
        op.changes = []
    _record_event(session, clock, settings, company, op, EventType.WRITE_SUCCESSFUL, record_id)


def fail(session: Session, clock: Clock, settings: Settings, company: Company, op: PushOperation,
         message: str) -> None:
    op.status = PushOperationStatus.FAILED
    op.status_code = STATUS_CODES[PushOperationStatus.FAILED]
    op.completed_at = clock.now()
    op.error_message = message
    op.changes = []
    _record_event(session, clock, settings, company, op, EventType.WRITE_UNSUCCESSFUL, None)


def time_out(session: Session, clock: Clock, settings: Settings, company: Company, op: PushOperation) -> None:
    """Only the status changes: whatever was stored stays stored (Codat: the write may still land)."""
    op.status = PushOperationStatus.TIMED_OUT
    op.status_code = STATUS_CODES[PushOperationStatus.TIMED_OUT]
    op.completed_at = clock.now()
    op.error_message = f"The push operation did not complete within {op.timeout_in_minutes} minutes."
    _record_event(session, clock, settings, company, op, EventType.WRITE_UNSUCCESSFUL, None)


def _record_event(
    session: Session, clock: Clock, settings: Settings, company: Company, op: PushOperation,
    event_type: WriteEventType, record_id: str | None,
) -> None:
    events.record(session, clock, event_type, webhook_payload(settings, company, op, record_id), company=company)


def webhook_payload(
    settings: Settings, company: Company, op: PushOperation, record_id: str | None
) -> DataTypeWritePayload:
    """Codat's DataTypeWriteWebhook payload."""
    return {
        "id": str(op.key),
        "type": "Create",
        "referenceCompany": events.reference_company(company, settings.public_url),
        "connectionId": str(op.connection_id),
        "requestedOnDate": format_datetime(op.requested_at),
        "completedOnDate": format_datetime(op.completed_at) if op.completed_at is not None else None,
        "status": op.status,
        "record": {"id": record_id} if record_id is not None else None,
        "attachmentId": None,
    }


def company_by_id(session: Session, company_id: uuid.UUID) -> Company:
    return companies.get(session, company_id)


def get(session: Session, company: Company, key: uuid.UUID) -> PushOperation:
    op = PushOperationRepository(session).get(company.id, key)
    if op is None:
        raise NotFound(f"Push operation {key} not found")
    return op


def page(session: Session, company: Company, params: PageParams) -> tuple[list[PushOperation], int]:
    where = query.compile_filter(params.query, FIELDS)
    order = query.compile_order(
        params.order_by, FIELDS, [PushOperation.requested_at.asc(), PushOperation.key.asc()]
    )
    return PushOperationRepository(session).page(company.id, where, order, params)


def expire_due(session: Session, clock: Clock, settings: Settings, limit: int = 100) -> int:
    """Move Pending operations past their timeout to TimedOut. Returns how many moved."""
    repo = PushOperationRepository(session)
    ops = repo.claim_timed_out(clock.now(), limit)
    companies = repo.companies({op.company_id for op in ops})
    for op in ops:
        time_out(session, clock, settings, companies[op.company_id], op)
    return len(ops)
