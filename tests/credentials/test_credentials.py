"""generate-credentials and delete-bank-feed-credentials on the public API."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.models import Credential
from tests.fixtures.factories import make_company, make_connection, make_source_account
from tests.idx.helpers import IDX, credentials_path, idx_headers, new_credentials


def test_generate_returns_a_new_pair_each_time_and_all_stay_valid(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = make_connection(database, clock, make_company(database, clock))
    pairs = set()
    for body in (b"", b"{}", b"anything at all", b'{"ignored": true}', b"[1, 2]"):
        r = client.post(credentials_path(connection), content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        assert r.headers["cache-control"] == "no-store"
        got = r.json()
        assert set(got) == {"username", "password"}
        assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", got["username"])
        assert len(got["password"]) == 16
        pairs.add((got["username"], got["password"]))
    assert len(pairs) == 5
    for pair in pairs:
        assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair)).status_code == 200


def test_credentials_are_stored_as_keyed_hashes_only(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = make_connection(database, clock, make_company(database, clock))
    username, password = new_credentials(client, connection)
    with database.unit_of_work() as session:
        row = session.scalars(select(Credential)).one()
        stored = " ".join(str(v) for v in (row.username_hash, row.password_hash))
    assert username not in stored and password not in stored
    assert re.fullmatch(r"[0-9a-f]{64} [0-9a-f]{64}", stored)


def test_delete_revokes_every_pair_and_is_204(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = make_connection(database, clock, make_company(database, clock))
    make_source_account(database, clock, connection, "acc-1")
    pairs = [new_credentials(client, connection) for _ in range(3)]
    r = client.delete(credentials_path(connection))
    assert r.status_code == 204 and r.content == b""
    for pair in pairs:
        assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*pair)).status_code == 401
    with database.unit_of_work() as session:
        assert all(c.revoked_at == clock.now() for c in session.scalars(select(Credential)))
    # Nothing left to revoke is still a success.
    assert client.delete(credentials_path(connection)).status_code == 204
    fresh = new_credentials(client, connection)
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(*fresh)).status_code == 200


def test_delete_reaches_credentials_not_a_source_account_named_credentials(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = make_connection(database, clock, make_company(database, clock))
    # An account whose id is literally "credentials" must not be what DELETE .../credentials removes.
    make_source_account(database, clock, connection, "credentials")
    new_credentials(client, connection)
    assert client.delete(credentials_path(connection)).status_code == 204
    with database.unit_of_work() as session:
        assert session.scalars(select(Credential)).one().revoked_at is not None
    listed = client.get(f"/companies/{connection.company_id}/connections/{connection.id}"
                        "/connectionInfo/bankFeedAccounts")
    assert listed.status_code == 200 and [a["id"] for a in listed.json()] == ["credentials"]


def test_credentials_router_comes_before_source_accounts() -> None:
    from bankfeeds.public_api import RESOURCE_MODULES

    order = list(RESOURCE_MODULES)
    assert order.index("bankfeeds.credentials.endpoints") < order.index("bankfeeds.source_accounts.endpoints")


def test_only_quickbooks_connections_have_credentials(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    connection = make_connection(database, clock, make_company(database, clock), platform_key="gbol")
    for method in ("post", "delete"):
        r = client.request(method, credentials_path(connection))
        assert r.status_code == 400, r.text
        assert r.json()["service"] == "PublicApi" and "hcws" in r.json()["error"]
    with database.unit_of_work() as session:
        assert session.scalars(select(Credential)).all() == []


def test_unknown_or_malformed_ids_and_no_api_key(
    client: TestClient, anon_client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company = make_company(database, clock)
    connection = make_connection(database, clock, company)
    other = make_company(database, clock, "Other")
    suffix = "/connectionInfo/bankFeedAccounts/credentials"
    for path in (f"/companies/{uuid.uuid4()}/connections/{connection.id}{suffix}",
                 f"/companies/{other.id}/connections/{connection.id}{suffix}",
                 f"/companies/{company.id}/connections/{uuid.uuid4()}{suffix}"):
        for method in ("post", "delete"):
            r = client.request(method, path)
            assert r.status_code == 404, (method, path, r.text)
    for path in (f"/companies/nope/connections/{connection.id}{suffix}",
                 f"/companies/{company.id}/connections/nope{suffix}"):
        for method in ("post", "delete"):
            r = client.request(method, path)
            assert r.status_code == 404 and r.json()["statusCode"] == 404
    for method in ("post", "delete"):
        assert anon_client.request(method, credentials_path(connection)).status_code == 401
    r = client.put(credentials_path(connection))
    assert r.status_code == 405
    with database.unit_of_work() as session:
        assert session.scalars(select(Credential)).all() == []
