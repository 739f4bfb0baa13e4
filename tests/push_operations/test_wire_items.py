"""A push operation's stored validation items as wire items (push_operations.service._items)."""

from __future__ import annotations

from bankfeeds.errors import ValidationItem
from bankfeeds.push_operations.schemas import ValidationItemOut
from bankfeeds.push_operations.service import _items


def test_stored_items_become_wire_items() -> None:
    stored = [ValidationItem("t1", "skipped", "Duplicate").to_wire(), ValidationItem(None, "no id").to_wire()]
    assert _items(stored) == [ValidationItemOut(item_id="t1", message="skipped", validator_name="Duplicate"),
                              ValidationItemOut(item_id=None, message="no id", validator_name=None)]
    assert _items(None) == [] and _items([]) == []


def test_an_absent_key_reads_as_null_and_field_names_are_not_keys() -> None:
    stored = [{"itemId": "t1", "message": "m"}, {"item_id": "t2", "message": "m", "validator_name": "X"}]
    assert _items(stored) == [ValidationItemOut(item_id="t1", message="m", validator_name=None),
                              ValidationItemOut(item_id=None, message="m", validator_name=None)]
