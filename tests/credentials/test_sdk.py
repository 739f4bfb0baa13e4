"""Codat's own Python SDK (13.0.0) generates and revokes credentials against the live server."""

from __future__ import annotations

import pytest
from codat_bankfeeds import CodatBankFeeds
from codat_bankfeeds.models import errors
from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.factories import make_company, make_connection
from tests.idx.helpers import IDX, idx_headers


def test_sdk_generate_and_delete(sdk: CodatBankFeeds, anon_client: TestClient,
                                 database: Database, clock: FrozenClock) -> None:
    connection = make_connection(database, clock, make_company(database, clock))
    ids = {"company_id": str(connection.company_id), "connection_id": str(connection.id)}
    pair = sdk.source_accounts.generate_credentials(request={**ids, "request_body": b""})
    assert pair.username and pair.password
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(pair.username, pair.password)).status_code == 200
    assert sdk.source_accounts.delete_credentials(request=ids) is None
    assert anon_client.get(f"{IDX}/accounts", headers=idx_headers(pair.username, pair.password)).status_code == 401
    with pytest.raises(errors.ErrorMessage) as missing:
        sdk.source_accounts.generate_credentials(
            request={"company_id": str(connection.company_id), "connection_id": "not-a-uuid", "request_body": b"{}"})
    assert missing.value.status_code == 404
