"""update-source-account rules (v1 and v2) and delete-source-account."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import SourceAccount
from tests.fixtures.factories import make_source_account
from tests.fixtures.reads import events
from tests.source_accounts.helpers import (
    V1,
    V2,
    accounts_url,
    assert_error,
    connection_status,
    create,
    exact,
    feed,
    send,
    stored,
)

DISCONNECTED = "bankFeeds.sourceAccount.disconnected"


def _set_status(database: Database, account_pk: Any, status: str) -> None:
    with database.unit_of_work() as session:
        row = session.get(SourceAccount, account_pk)
        assert row is not None
        row.status = status


def test_v1_rename_and_balance_while_pending(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection) + "/acc-v1"
    created = create(client, company, connection, V1)
    clock.advance(timedelta(minutes=5))
    # The whole account sent back, with a new name and balance.
    raw = send(client, "PATCH", url, '{"id":"acc-v1","accountName":"Renamed","balance":-0.0001,"status":"pending",'
                                     '"accountNumber":"12345670","currency":"GBP","modifiedDate":"2020-01-01"}')
    assert raw.status_code == 200, raw.text
    body = exact(raw)
    assert body == {**created, "accountName": "Renamed", "balance": Decimal("-0.0001"),
                    "modifiedDate": "2026-11-24T15:05:00Z"}
    row = stored(database, connection, "acc-v1")
    assert row is not None and row.balance == Decimal("-0.0001") and row.account_name == "Renamed"
    # Only the id: nothing changes.
    r = client.patch(url, json={"id": "acc-v1"})
    assert r.status_code == 200 and r.json()["accountName"] == "Renamed"


def test_v1_balance_cannot_change_while_connected(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection) + "/acc-v1"
    create(client, company, connection, V1)
    row = stored(database, connection, "acc-v1")
    assert row is not None
    _set_status(database, row.id, "connected")
    assert_error(client.patch(url, json={"id": "acc-v1", "balance": 5}), 400, "balance", "not connected")
    # The same balance, and a new name, are fine.
    r = client.patch(url, json={"id": "acc-v1", "balance": 99.99, "accountName": "New"})
    assert r.status_code == 200 and r.json()["accountName"] == "New" and r.json()["status"] == "connected"


def test_v1_status_only_to_disconnected(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock, status="Linked")
    url = accounts_url(company, connection)
    create(client, company, connection, V1)
    create(client, company, connection, {**V1, "id": "other"})
    for status in ("connected", "connecting", "unknown"):
        assert_error(client.patch(url + "/acc-v1", json={"id": "acc-v1", "status": status}), 400,
                     "only be set to 'disconnected'")
    assert_error(client.patch(url + "/acc-v1", json={"id": "acc-v1", "status": "linked"}), 400, "status")
    r = client.patch(url + "/acc-v1", json={"id": "acc-v1", "status": "disconnected"})
    assert r.status_code == 200 and r.json()["status"] == "disconnected"
    sent = events(database, DISCONNECTED)
    assert len(sent) == 1 and sent[0]["payload"]["sourceAccount"]["id"] == "acc-v1"
    # Again: no second event. The other account still feeds, so the connection stays Linked.
    assert client.patch(url + "/acc-v1", json={"id": "acc-v1", "status": "disconnected"}).status_code == 200
    assert len(events(database, DISCONNECTED)) == 1
    assert connection_status(database, connection) == "Linked"
    # Disconnecting the last one unlinks the QuickBooks connection.
    assert client.patch(url + "/other", json={"id": "other", "status": "disconnected"}).status_code == 200
    assert connection_status(database, connection) == "Unlinked"
    assert len(events(database, "connection.disconnected")) == 1


def test_v1_other_fields_cannot_change(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection) + "/acc-v1"
    create(client, company, connection, V1)
    for field, value in [("accountNumber", "999"), ("currency", "USD"), ("sortCode", "000000"),
                         ("accountType", "Credit")]:
        assert_error(client.patch(url, json={"id": "acc-v1", field: value}), 400, field,
                     "accountName, status and balance")
    assert_error(client.patch(url, json={"id": "acc-v2"}), 400, "does not match")
    # Null means "not sent" for the fields that cannot change.
    assert client.patch(url, json={"id": "acc-v1", "accountNumber": None}).status_code == 200
    row = stored(database, connection, "acc-v1")
    assert row is not None and row.account_number == "12345670" and row.currency == "GBP"


def test_v2_only_the_name_changes(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection) + "/acc-v2"
    created = create(client, company, connection, V2)
    r = client.patch(url, json={**V2, "accountName": "Savings pot"})
    assert r.status_code == 200, r.text
    assert exact(r) == {**created, "accountName": "Savings pot"}
    for change in [{"balance": 11}, {"accountNumber": "1"}, {"accountType": "savings"}, {"currency": "EUR"},
                   {"status": "disconnected"}, {"routingInfo": {"bankCode": "1", "type": "aba"}},
                   {"accountInfo": {"nickname": "x"}}]:
        assert_error(client.patch(url, json={**V2, **change}), 400, "Only accountName")
    # v2 PATCH bodies are whole SourceAccountV2s: required fields must be there.
    assert_error(client.patch(url, json={"id": "acc-v2", "accountName": "x"}), 400, "accountType")
    assert_error(client.patch(url, json={**V2, "sortCode": 5}), 400, "sortCode")
    row = stored(database, connection, "acc-v2")
    assert row is not None and row.account_name == "Savings pot" and row.balance == 10 and row.status == "pending"


def test_update_bad_input_changes_nothing(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection)
    create(client, company, connection, V1)
    for raw, needle in [(b"", "empty"), (b"{", "not valid JSON"), (b"[]", "JSON object"), (b"{}", "id"),
                        (b'{"id": "acc-v1", "accountName": 7}', "accountName"),
                        (b'{"id": "acc-v1", "balance": "7"}', "balance"),
                        (b'{"id": "acc-v1", "accountName": "x", "status": "gone"}', "status"),
                        (b'{"id": "acc-v1", "accountName": "x", "extra": true}', "extra"),
                        (b'{"id": "acc-v1", "accountName": "x", "currency": null}', "currency")]:
        assert_error(send(client, "PATCH", url + "/acc-v1", raw), 400, needle)
    assert_error(client.patch(url + "/missing", json={"id": "missing"}), 404, "missing")
    assert_error(client.patch(url + "/acc%00", json={"id": "acc"}), 404, "acc")
    assert_error(client.delete(url + "/acc%00"), 404, "acc")
    row = stored(database, connection, "acc-v1")
    assert row is not None and row.account_name == "Business Current" and row.status == "pending"
    assert events(database, DISCONNECTED) == []


def test_delete_removes_the_account(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection)
    create(client, company, connection, V1)
    create(client, company, connection, V2)
    r = client.delete(url + "/acc-v1")
    assert r.status_code == 204 and r.content == b""
    assert [a["id"] for a in client.get(url).json()] == ["acc-v2"]
    assert_error(client.delete(url + "/acc-v1"), 404, "acc-v1")
    assert_error(client.patch(url + "/acc-v1", json={"id": "acc-v1"}), 404, "acc-v1")
    # The id can be used again.
    assert create(client, company, connection, V1)["status"] == "pending"


def test_delete_of_a_connected_account_takes_its_mapping(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company, connection = feed(database, clock, status="Linked")
    make_source_account(database, clock, connection, "mapped", target_account_id="T-1", target_account_name="Bank")
    assert client.delete(accounts_url(company, connection) + "/mapped").status_code == 204
    assert stored(database, connection, "mapped") is None
    # Deleting is not a disconnection: no event, and the connection is left as it was.
    assert events(database, DISCONNECTED) == []
    assert connection_status(database, connection) == "Linked"


def test_generate_otp_is_sage_only(client: TestClient, database: Database, clock: FrozenClock) -> None:
    for platform, name in [("hcws", "QuickBooks Online Bank Feeds (hcws)"), ("gbol", "Xero (gbol)")]:
        company, connection = feed(database, clock, platform=platform)
        r = client.post(f"/companies/{company.id}/connections/{connection.id}/bankFeeds/otp")
        assert_error(r, 400, "Sage", name)
    assert_error(client.post(f"/companies/{company.id}/connections/{company.id}/bankFeeds/otp"), 404, "not found")
