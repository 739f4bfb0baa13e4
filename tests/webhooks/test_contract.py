"""Contract test: the three ``/webhooks`` operations of Codat's Platform spec, run by schemathesis.

``Codat-Platform-webhooks.json`` is the official Platform spec trimmed to those operations and
what they reference (the spec lives in shared/specs/codat/Codat-Platform.json). Checks are
schemathesis' defaults: status codes and bodies conform, no 5xx, negative data rejected,
authentication enforced. As in tests/contract, a 400 for a schema-valid body is accepted: the
spec sets no rules for ``url`` or ``eventTypes`` and we refuse unknown event types.
"""

from __future__ import annotations

import base64
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig

from bankfeeds.app import create_app
from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.kit.security import sha256_hex
from bankfeeds.models import ApiKey
from bankfeeds.webhooks import service as webhooks
from tests.fixtures.app import LiveServer
from tests.fixtures.specs import SPECS

SPEC = SPECS / "Codat-Platform-webhooks.json"
RAW_API_KEY = "webhooks-contract-key-0123456789abcdef"
AUTH = "Basic " + base64.b64encode(RAW_API_KEY.encode()).decode()
SEEDED_ID = "8a210b68-6988-11ed-a1eb-0242ac120002"

CONFIG = SchemathesisConfig.from_dict({
    # Conformance, not speed: a loaded CI machine can take longer than the 10 s default to answer.
    "request-timeout": 60,
    "auth": {"openapi": {"auth_header": {"api_key": AUTH}}},
    "generation": {"allow-extra-parameters": False},
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2XX", "400", "401", "403", "404", "429", "5XX"],
        },
    },
})

schema = schemathesis.openapi.from_path(SPEC, config=CONFIG)


@schema.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    """About half the cases (deterministically) delete the seeded consumer."""
    if not path_parameters or zlib.crc32(repr(sorted(path_parameters.items())).encode()) % 2:
        return path_parameters
    return {**path_parameters, "webhookId": SEEDED_ID}


@pytest.fixture
def server(settings: Settings, clock: FrozenClock, database: Database) -> Iterator[LiveServer]:
    with database.unit_of_work() as session:
        session.add(ApiKey(name="contract", key_hash=sha256_hex(RAW_API_KEY), prefix=RAW_API_KEY[:8],
                           created_at=clock.now()))
        consumer, _ = webhooks.add(session, clock, settings, "https://bank.example/hooks", ["company.created"])
        consumer.id = uuid.UUID(SEEDED_ID)
    with LiveServer(create_app(settings, clock=clock, database=database, run_worker=False)) as live:
        yield live


def test_the_spec_has_the_three_operations() -> None:
    ops = {op.definition.raw["operationId"] for op in (r.ok() for r in schema.get_all_operations())}
    assert ops == {"list-webhook-consumers", "create-webhook-consumer", "delete-webhook-consumer"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_conforms_to_codat_platform_spec(case: Any, server: LiveServer) -> None:
    case.call_and_validate(base_url=server.url)
