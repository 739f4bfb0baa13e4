"""Account mapping and company information of a linked Xero connection, held against Codat's spec.

(Moved from tests/source_accounts/test_spec_shapes.py: it needs a Xero organisation behind it.)"""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.source_accounts.helpers import V1, create, mapping_url
from tests.source_accounts.test_spec_shapes import P, _response_schema, validator
from tests.xero_link.helpers import link


def test_mapping_and_company_information_match_the_spec(
    client: TestClient, browser: TestClient, xero_browser: httpx.Client, database: Database, clock: FrozenClock,
) -> None:
    company, connection, r = link(client, browser, xero_browser, database, clock)
    assert r.status_code == 303, r.text
    create(client, company, connection, V1)
    create(client, company, connection, {"id": "bare"})
    mapping = validator(_response_schema(P + "/bankFeedAccounts/mapping", "get", "200"))
    listed = client.get(mapping_url(company, connection)).json()
    assert mapping.is_valid(listed), list(mapping.iter_errors(listed))
    option = listed[0]["targetAccountOptions"][0]["id"]
    posted = client.post(mapping_url(company, connection), json={"sourceAccountId": "acc-v1", "targetAccountId": option})
    response = validator(_response_schema(P + "/bankFeedAccounts/mapping", "post", "200"))
    assert response.is_valid(posted.json())
    failed = client.post(mapping_url(company, connection), json={"sourceAccountId": "bare", "targetAccountId": option})
    assert failed.json()["status"] == "Failed" and response.is_valid(failed.json())
    listed = client.get(mapping_url(company, connection)).json()
    assert mapping.is_valid(listed), list(mapping.iter_errors(listed))
    info = client.get(f"/companies/{company.id}/connections/{connection.id}/bankFeeds/info").json()
    assert validator(_response_schema(P + "/bankFeeds/info", "get", "200")).is_valid(info)
