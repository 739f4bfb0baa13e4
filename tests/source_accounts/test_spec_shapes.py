"""Responses held against Codat's pinned OpenAPI schemas (Codat-Bank-Feeds.json).

The spec is OpenAPI 3.1 written with 3.0's ``nullable``; it is rewritten to plain JSON Schema
(``nullable: true`` → ``null`` allowed) the way schemathesis reads it. Where the spec offers
``oneOf`` the v1 and v2 shapes, each answer must match exactly one of them.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.specs import SPECS, load_spec, response_schema
from tests.fixtures.specs import validator as spec_validator
from tests.source_accounts.helpers import V1, V2, accounts_url, create, feed

SPEC = SPECS / "Codat-Bank-Feeds.json"


def _response_schema(path: str, method: str, status: str) -> Any:
    return response_schema(SPEC.name, path, method, status)


def validator(schema: Any) -> Any:
    return spec_validator(SPEC.name, schema)


def one_of_matches(one_of: list[Any], instance: Any) -> int:
    return sum(1 for option in one_of if validator(option).is_valid(instance))


P = "/companies/{companyId}/connections/{connectionId}"
ACCOUNTS = P + "/connectionInfo/bankFeedAccounts"


def test_the_spec_is_pinned() -> None:
    assert SPEC.exists(), SPEC


def test_source_account_answers_match_exactly_one_shape(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    company, connection = feed(database, clock)
    one_of = _response_schema(ACCOUNTS, "post", "200")["oneOf"]
    samples = [
        create(client, company, connection, V1),
        create(client, company, connection, V2),
        create(client, company, connection, {"id": "bare"}),
        create(client, company, connection, {"id": "min2", "accountName": "n", "accountType": "loan",
                                             "accountNumber": "1", "currency": "USD", "balance": 0}),
        create(client, company, connection, {"id": "checking-as-v1-text", "accountType": "Checking"}),
    ]
    for sample in samples:
        body = json.loads(json.dumps(sample, default=float))
        assert one_of_matches(one_of, body) == 1, body
    # Without the always-present accountInfo a minimal v2 account would match both shapes:
    # the validator does tell them apart.
    minimal_v2 = json.loads(json.dumps(samples[3], default=float))
    assert one_of_matches(one_of, {k: v for k, v in minimal_v2.items() if k != "accountInfo"}) == 2
    assert one_of_matches(one_of, {**minimal_v2, "balance": "0"}) == 0
    # list: a bare array; accounts keep the shape they were made in, so each item matches
    # exactly one of the two item schemas.
    listed = client.get(accounts_url(company, connection)).json()
    item_validators = [validator(validator_items(s)) for s in _response_schema(ACCOUNTS, "get", "200")["oneOf"]]
    assert len(listed) == len(samples)
    for item in listed:
        assert sum(v.is_valid(item) for v in item_validators) == 1, item
    patch = client.patch(accounts_url(company, connection) + "/acc-v1", json={"id": "acc-v1", "accountName": "x"})
    assert validator(_response_schema(ACCOUNTS + "/{accountId}", "patch", "200")).is_valid(patch.json())


def validator_items(array_ref: dict[str, Any]) -> Any:
    """The item schema of a ``{"$ref": ".../sourceAccounts"}`` array definition."""
    pointer = array_ref["$ref"].lstrip("#/").split("/")
    node: Any = load_spec(SPEC.name)
    for part in pointer:
        node = node[part]
    return node["items"]


def test_batch_items_match_the_spec(client: TestClient, database: Database, clock: FrozenClock) -> None:
    company, connection = feed(database, clock)
    url = accounts_url(company, connection) + "/batch"
    for expected, body in [(201, [V1, V2]), (207, [V1, {**V2, "id": "new"}]), (409, [V1, V2])]:
        r = client.post(url, json=body)
        assert r.status_code == expected
        item_one_of = _response_schema(ACCOUNTS + "/batch", "post", str(expected))["items"]["oneOf"]
        for item in r.json():
            assert one_of_matches(item_one_of, item) == 1, (expected, item)


