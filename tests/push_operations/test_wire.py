"""A push operation on the wire (push_operations.service.as_wire, rendered by ``dumps_plain``):
what the ``PushOperationOut`` schema gives for it (rendered by ``dumps``), field for field and
byte for byte."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bankfeeds.errors import ValidationItem
from bankfeeds.kit import jsonutil
from bankfeeds.kit.http import wire
from bankfeeds.models import PushOperation, PushOperationStatus
from bankfeeds.push_operations.schemas import PushOperationOut
from bankfeeds.push_operations.service import as_wire

NOW = datetime(2026, 11, 24, 15, 0, 0, 123456, tzinfo=UTC)


def _op(**fields: Any) -> PushOperation:
    values: dict[str, Any] = {
        "key": uuid.uuid4(), "company_id": uuid.uuid4(), "connection_id": uuid.uuid4(), "source_account_id": "acc-1",
        "data_type": "bankTransactions", "status": PushOperationStatus.PENDING, "status_code": 202,
        "requested_at": NOW, "completed_at": None, "timeout_in_minutes": None, "timeout_at": None,
        "error_message": None, "validation": {"errors": [], "warnings": []}, "changes": None, "transaction_count": 1,
    }
    return PushOperation(**{**values, **fields})


CASES = {
    "pending": _op(),
    "success": _op(status=PushOperationStatus.SUCCESS, status_code=200, completed_at=NOW + timedelta(seconds=1),
                   changes=[{"type": "Created", "recordRef": {"id": "acc-1", "dataType": "bankTransactions"},
                             "attachmentId": None}],
                   validation={"errors": [], "warnings": [ValidationItem("t1", "skipped", "Duplicate").to_wire()]}),
    "failed": _op(status="Failed", status_code=400, completed_at=NOW, changes=[], error_message="Push failed: é \u4e2d",
                  validation={"errors": [ValidationItem(None, "no id").to_wire(), ValidationItem("t2", "x", "Y").to_wire()],
                              "warnings": []}),
    "timed out, another zone": _op(status=PushOperationStatus.TIMED_OUT, status_code=504, timeout_in_minutes=5,
                                   completed_at=datetime(2026, 11, 24, 16, 5, tzinfo=timezone(timedelta(hours=1))),
                                   error_message="late"),
    "old rows": _op(validation=None, changes=[{"type": "Created", "recordRef": {"id": "acc-1"}}]),
    "absent keys": _op(validation={"errors": [{"itemId": "t1", "message": "m"}],
                                   "warnings": [{"item_id": "t2", "message": "m", "validator_name": "X"}]}),
}


@pytest.mark.parametrize("name", CASES)
def test_the_wire_form_is_the_schemas(name: str) -> None:
    op = CASES[name]
    fast = as_wire(op)
    schema = wire(PushOperationOut.model_validate(fast))
    assert list(fast) == list(schema)  # same keys, same order
    rendered = jsonutil.dumps(schema)
    assert jsonutil.dumps(fast) == rendered
    assert json.loads(jsonutil.dumps_plain(fast)) == json.loads(rendered)
    if jsonutil.dumps_plain(fast).isascii():  # else the same JSON, its text written as itself, not escaped
        assert jsonutil.dumps_plain(fast) == rendered.encode()


def test_stored_items_become_wire_items_an_absent_key_null() -> None:
    assert as_wire(CASES["absent keys"])["validation"] == {
        "errors": [{"itemId": "t1", "message": "m", "validatorName": None}],
        # Field names are not keys: the wire's names are read.
        "warnings": [{"itemId": None, "message": "m", "validatorName": None}],
    }
    assert as_wire(CASES["old rows"])["validation"] == {"errors": [], "warnings": []}
    assert as_wire(CASES["old rows"])["changes"] == [
        {"type": "Created", "recordRef": {"id": "acc-1", "dataType": None}, "attachmentId": None}]
    wired = jsonutil.dumps_plain(as_wire(CASES["timed out, another zone"]))
    assert b'"completedOnUtc":"2026-11-24T15:05:00Z"' in wired and b'"status":"TimedOut"' in wired


def test_plain_json_refuses_what_is_not_plain() -> None:
    with pytest.raises(TypeError):
        jsonutil.dumps_plain({"at": object()})
    assert json.loads(jsonutil.dumps_plain({"failed": as_wire(CASES["failed"])["errorMessage"]})) == {
        "failed": "Push failed: é \u4e2d"}
