"""Wire shapes of push operations (Codat's ``PushOperation``, ``PushOperations`` items)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from bankfeeds.kit.pagination import Page
from bankfeeds.kit.wire import WireModel
from bankfeeds.models import PushOperationStatus


class ValidationItemOut(WireModel):
    item_id: str | None
    message: str | None
    validator_name: str | None


class ValidationOut(WireModel):
    errors: list[ValidationItemOut]
    warnings: list[ValidationItemOut]


class PushOperationRef(WireModel):
    id: str
    data_type: str | None


class PushOperationChange(WireModel):
    type: Literal["Unknown", "Created", "Modified", "Deleted", "AttachmentUploaded"]
    record_ref: PushOperationRef
    attachment_id: str | None = None


class PushOperationOut(WireModel):
    changes: list[PushOperationChange] | None
    data_type: str
    company_id: str
    push_operation_key: str
    data_connection_key: str
    requested_on_utc: datetime
    completed_on_utc: datetime | None
    timeout_in_minutes: int | None
    timeout_in_seconds: int | None = None
    status: PushOperationStatus
    error_message: str | None
    validation: ValidationOut
    status_code: int


class PushOperations(Page[PushOperationOut]):
    """list-create-operations."""
