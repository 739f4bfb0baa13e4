"""IDX authentication: partner key plus a generated credential pair, throttled, revocable."""

from __future__ import annotations

import base64
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Connection, Credential, LoginThrottle
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.idx.helpers import IDX, credentials_path, idx_headers, new_credentials, reload


def _feed(database: Database, clock: FrozenClock) -> Connection:
    company = make_company(database, clock)
    connection = make_connection(database, clock, company)
    make_source_account(database, clock, connection, "acc-1", status="pending")
    return connection


def _assert_envelope(r, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    assert body["statusCode"] == status and body["service"] == "PullApi"
    assert body["error"] and body["correlationId"] and body["canBeRetried"] in ("Unknown", "True")
    assert body["detailedErrorCode"] == 0
    return body


def test_valid_pair_and_partner_key_get_in(client: TestClient, anon_client: TestClient, database: Database,
                                          clock: FrozenClock) -> None:
    connection = _feed(database, clock)
    username, password = new_credentials(client, connection)
    r = anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, password))
    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()["results"]] == ["acc-1"]
    # Usernames are upper case; what QuickBooks users type may not be.
    r = anon_client.get(f"{IDX}/accounts", headers=idx_headers(f" {username.lower()} ", password))
    assert r.status_code == 200


def test_missing_or_wrong_headers_are_401_in_the_pull_api_envelope(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = _feed(database, clock)
    username, password = new_credentials(client, connection)
    good = idx_headers(username, password)
    cases = [
        {},
        {"Authorization": good["Authorization"]},
        {"X-Partner-Key": good["X-Partner-Key"]},
        {**good, "X-Partner-Key": base64.b64encode(b"wrong").decode()},
        {**good, "X-Partner-Key": "test-partner-key"},  # not base64 of the key
        {**good, "Authorization": "Bearer " + good["Authorization"].split()[1]},
        {**good, "Authorization": "Basic !!!"},
        {**good, "Authorization": "Basic " + base64.b64encode(username.encode()).decode()},
        {**good, "Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},
        {**good, "Authorization": "Basic " + "A" * 5000},
        idx_headers(username, password + "x"),
    ]
    for headers in cases:
        r = anon_client.get(f"{IDX}/accounts", headers=headers)
        body = _assert_envelope(r, 401)
        assert r.headers["WWW-Authenticate"].startswith("Basic")
        assert password not in body["error"] and username not in body["error"]
    with database.unit_of_work() as session:
        assert session.get(Connection, connection.id).status == "PendingAuth"  # type: ignore[union-attr]


def test_unknown_username_and_wrong_password_get_the_same_answer(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = _feed(database, clock)
    username, _ = new_credentials(client, connection)
    wrong_password = anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, "nope-nope-nope"))
    unknown_user = anon_client.get(f"{IDX}/accounts", headers=idx_headers("AAAA-BBBB-CCCC", "nope-nope-nope"))
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json()["error"] == unknown_user.json()["error"]


def test_revoked_credentials_and_deleted_connections_fail_at_once(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = _feed(database, clock)
    first = new_credentials(client, connection)
    second = new_credentials(client, connection)
    for pair in (first, second):
        assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair)).status_code == 200
    assert client.delete(credentials_path(connection)).status_code == 204
    for pair in (first, second):
        _assert_envelope(anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair)), 401)
        _assert_envelope(anon_client.get(f"{IDX}/accounts/acc-1/transactions", headers=idx_headers(*pair)), 401)

    third = new_credentials(client, connection)
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*third)).status_code == 200
    r = client.delete(f"/companies/{connection.company_id}/connections/{connection.id}")
    assert r.status_code == 200
    _assert_envelope(anon_client.get(f"{IDX}/accounts", headers=idx_headers(*third)), 401)


def test_deleting_the_company_ends_its_credentials(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = _feed(database, clock)
    pair = new_credentials(client, connection)
    assert client.delete(f"/companies/{connection.company_id}").status_code == 204
    _assert_envelope(anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair)), 401)
    with database.unit_of_work() as session:
        assert session.scalars(select(Credential)).all() == []


def test_repeated_failures_for_a_username_are_throttled_right_or_wrong(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = _feed(database, clock)
    username, password = new_credentials(client, connection)
    for _ in range(5):
        _assert_envelope(anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, "wrong")), 401)
    r = anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, password))
    body = _assert_envelope(r, 429)
    assert body["canBeRetried"] == "True"
    assert 1 <= int(r.headers["Retry-After"]) <= 15 * 60
    # Another pair of the same connection is not locked out by the first one's failures.
    other = new_credentials(client, connection)
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*other)).status_code == 200
    clock.advance(timedelta(minutes=15, seconds=1))
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, password)).status_code == 200
    # Nothing in the throttle table names the user in clear.
    with database.unit_of_work() as session:
        keys = [t.key for t in session.scalars(select(LoginThrottle))]
    assert all(username not in k and username.lower() not in k for k in keys)


def test_unknown_usernames_are_throttled_exactly_like_known_ones(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = _feed(database, clock)
    known, _ = new_credentials(client, connection)
    answers = {}
    for name in (known, "ZZZZ-ZZZZ-ZZZZ"):
        seen = [anon_client.get(f"{IDX}/accounts", headers=idx_headers(name, "wrong")) for _ in range(6)]
        answers[name] = [(r.status_code, r.json()["error"]) for r in seen]
    assert answers[known] == answers["ZZZZ-ZZZZ-ZZZZ"]
    assert [s for s, _ in answers[known]] == [401] * 5 + [429]


def test_failures_for_other_usernames_from_the_same_address_block_no_one_else(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    # QuickBooks calls for every customer from a few addresses: one customer's failures (or a
    # scan over usernames) must not lock the others out.
    connection = _feed(database, clock)
    pair = new_credentials(client, connection)
    for i in range(30):
        _assert_envelope(anon_client.get(f"{IDX}/accounts", headers=idx_headers(f"AAAA-AAAA-{i:04d}", "x")), 401)
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair)).status_code == 200


def test_successful_calls_stamp_the_credential(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = _feed(database, clock)
    pair = new_credentials(client, connection)
    clock.advance(timedelta(hours=2))
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair)).status_code == 200
    with database.unit_of_work() as session:
        row = session.scalars(select(Credential)).one()
        assert row.last_used_at == clock.now()
    assert reload(database, Connection, connection.id).linked_at == clock.now()


def test_a_failure_after_the_window_starts_a_new_count(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = _feed(database, clock)
    username, password = new_credentials(client, connection)
    for _ in range(4):
        _assert_envelope(anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, "wrong")), 401)
    clock.advance(timedelta(minutes=16))
    # The old window is over: this failure restarts the count (and must not trip on the purge).
    for _ in range(4):
        _assert_envelope(anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, "wrong")), 401)
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(username, password)).status_code == 200
    with database.unit_of_work() as session:
        rows = {t.key.split(":")[0]: t.failures for t in session.scalars(select(LoginThrottle))}
    assert rows == {}  # the right password cleared the (username, address) counter
