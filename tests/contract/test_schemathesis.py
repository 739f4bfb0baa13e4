"""Contract test: Codat's official Bank Feeds spec, run by schemathesis against the live app.

Every operation of ``Codat-Bank-Feeds.json`` (the official spec, pinned in ``specs/codat/``) that
the app serves is tested: the list comes from the app's own routes (their operationIds), less the
x-internal operations and those we deliberately don't serve (managed bank feeds, bank accounts).

Three kinds of cases, all deterministic: the spec's examples; schemathesis' coverage phase, which
walks each operation's schema for boundary values (min/max lengths and numbers, near-boundary
values), negative cases (values past each boundary, wrong types and formats, invalid enum values,
missing required and unexpected properties, missing parameters), unexpected methods, a missing or
wrong Authorization and wrong Content-Types; and a few derandomized Hypothesis (fuzzing) cases. The
coverage phase is schemathesis', not Hypothesis': its cases run as explicit examples, so it needs
``Phase.explicit``, and the test fails if an operation ran without any coverage case.

Data: each operation starts from empty tables and fresh seed data (a company, a Linked
connection, a connected source account and a push operation) at the ids the spec uses in its
examples, so example and coverage cases reach real resources; about half the generated cases are
pointed at them too, the rest use random ids. A case that changed something is followed by a
fresh seed, so every case meets the seed state. The platform and account shape of the seed suit
the operation (Xero for account mapping, a v1 account for update-source-account).

Checks: every default schemathesis check, among them no 5xx, responses conform to the spec
(status, content type, schema), schema-violating requests refused with a 4xx, schema-valid ones
accepted, authentication enforced (ST401), Allow header of 405s (ST205). And one of ours: a read,
or a request refused with a 4xx, changes nothing in the database.

Where the spec itself is wrong or silent, the spec we test against is adjusted narrowly in
``adjusted_spec`` (each change says why); the config tweaks in ``CONFIG`` say why too.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig

from bankfeeds.app import create_app
from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Base, Database
from bankfeeds.kit.security import sha256_hex
from bankfeeds.models import ApiKey, Company, Connection, PushOperation
from tests.fixtures.app import NOW, LiveServer, make_settings
from tests.fixtures.database import own_database
from tests.fixtures.factories import make_source_account
from tests.fixtures.specs import SPECS

SPEC = SPECS / "Codat-Bank-Feeds.json"
# A fixed key, so the schemathesis config (which needs it to run ST401 properly) can be static.
RAW_API_KEY = "contract-test-key-0123456789abcdefghij"
AUTH = "Basic " + base64.b64encode(RAW_API_KEY.encode()).decode()

# Operations we deliberately don't serve (see the reference, §1): Codat fetches nothing from
# banks for us, and bank accounts are x-internal accounting reads.
NOT_SERVED_TAGS = {"Managed bank feeds", "Bank accounts"}

CONFIG = SchemathesisConfig.from_dict({
    # Conformance, not speed: a loaded CI machine can take longer than the 10 s default to answer.
    "request-timeout": 60,
    "auth": {"openapi": {"auth_header": {"api_key": AUTH}}},
    "generation": {
        # Unknown query parameters are ignored, as Codat's API does; OpenAPI does not forbid them
        # and the SDKs may add some. Without this, ST201 reports every extra `?x=1` accepted.
        "allow-extra-parameters": False,
    },
    # On by default; stated because the coverage phase is what checks boundaries and negative
    # input here (see the module doc). Duplicate query parameters (`?page=1&page=1`) are left
    # out, as by default: they are read like one, as ASP.NET (Codat's stack) reads them.
    "phases": {"coverage": {"enabled": True, "generate-duplicate-query-parameters": False}},
    "checks": {
        # ST202: schema-valid data may still be refused with 400 by rules a schema can't express
        # (an unknown platformKey, a status other than "Unlinked", a transaction date in the
        # future) and, a known spec quirk (reference test-tooling §2), request bodies are not
        # marked required, so a missing body counts as valid.
        "positive_data_acceptance": {
            "expected-statuses": ["2XX", "3XX", "400", "401", "403", "404", "409", "429", "5XX"],
        },
    },
})


# orderBy and query examples each list operation's resource can answer (see adjusted_spec, 7).
LIST_EXAMPLES = {
    "list-companies": ("-created", "name=Contract Co"),
    "list-connections": ("-created", "status=Linked"),
    "list-create-operations": ("-requestedOnUtc", "status=Success"),
}


def served_operation_ids() -> set[str]:
    app = create_app(Settings(database_url="sqlite://", run_worker=False), run_worker=False)
    ids = set()
    for item in app.openapi().get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId"):
                ids.add(op["operationId"])
    return ids


def spec_operations(raw: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in raw["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, op


def operation_ids_under_test(raw: dict[str, Any]) -> list[str]:
    served = served_operation_ids()
    return sorted(
        op["operationId"] for _, _, op in spec_operations(raw)
        if op["operationId"] in served and not op.get("x-internal")
        and not NOT_SERVED_TAGS & set(op.get("tags", []))
    )


def adjusted_spec() -> dict[str, Any]:
    """The official spec with its known quirks corrected, each narrowly and for a stated reason."""
    raw: dict[str, Any] = json.loads(SPEC.read_text())
    schemas = raw["components"]["schemas"]
    error = copy.deepcopy(raw["components"]["responses"]["BadRequest"])

    for _, _, op in spec_operations(raw):
        # 1. Operations that take a body but document no 400 (replace-company, update-company,
        #    create-connection, unlink-connection, generate-credentials). A bad body must be a 4xx
        #    that changes nothing; 400 ErrorMessage is what the same spec documents for bad bodies
        #    on its other operations (create-company, create-source-account...), and 422 is taken
        #    by Codat's Idempotency-Key rules. Codat's SDK raises its generic error carrying the
        #    status and our body for it (tests/e2e/test_codat_sdk.py checks that), so clients see
        #    the reason either way.
        if "requestBody" in op and "400" not in op["responses"]:
            op["responses"]["400"] = error
    # 2. generate-credentials: the body is "required" but has no schema, and Codat's SDKs send an
    #    empty or arbitrary one (reference §1); the operation ignores it, so none is fine too.
    for _, _, op in spec_operations(raw):
        if op["operationId"] == "generate-credentials":
            op["requestBody"]["required"] = False
    # 3. create-connection: a company has one bank-feeds connection (Codat's integrations doc);
    #    a second one is refused with 409 Conflict (Codat's docs list 409 among their statuses),
    #    which the spec does not list for this operation. The SDK sees it as in 1.
    for _, _, op in spec_operations(raw):
        if op["operationId"] == "create-connection":
            op["responses"]["409"] = copy.deepcopy(error)
            op["responses"]["409"]["description"] = "Conflict"
    # 4. Company names: Codat strips characters outside the name pattern silently
    #    ("Company (Codat[1])" -> "Company Codat1", create-company docs), so a name that breaks
    #    the pattern is accepted. The pattern is dropped; minLength stays.
    for name in ("CompanyRequestBody", "CompanyUpdateRequest"):
        schemas[name]["properties"]["name"].pop("pattern", None)
    # 5. update-company (PATCH): "null or absent fields are left alone" (Codat's docs), so null
    #    is a valid value for each field there.
    update = schemas["CompanyUpdateRequest"]["properties"]
    for field in ("name", "description", "tags"):
        update[field] = {"anyOf": [update[field], {"type": "null"}]}
    # 6. timeoutInMinutes is an int32 with no minimum, but a time limit of zero or fewer minutes
    #    means nothing and is refused with 400. Without a minimum the coverage phase builds every
    #    create-bank-transactions case on -2147483648, so each one is refused for that and none
    #    reaches the body it is meant to test.
    raw["components"]["parameters"]["timeoutInMinutes"]["schema"]["minimum"] = 1
    for _, _, op in spec_operations(raw):
        # 7. The shared `orderBy` and `query` examples (`-modifiedDate`, `id=...`) name properties
        #    not every resource has (push operations have no `id`, nothing here has `modifiedDate`),
        #    and unknown properties are refused with 400 (Codat's "Error parsing query"), so every
        #    case built on them would test that alone. Each list operation gets examples its
        #    resource has.
        if op["operationId"] in LIST_EXAMPLES:
            order_by, query = LIST_EXAMPLES[op["operationId"]]
            params = op["parameters"]
            for i, param in enumerate(params):
                name = param.get("$ref", "").rsplit("/", 1)[-1]
                if name in ("orderBy", "query"):
                    param = copy.deepcopy(raw["components"]["parameters"][name])
                    param["example"] = order_by if name == "orderBy" else query
                    param["schema"].pop("example", None)
                    params[i] = param
        # 8. create-bank-transactions: the example body's accountId is not the example path's,
        #    and a body naming another account than the path is refused with 400 (one request
        #    writes to one account), so the examples are made to agree.
        #    update-source-account likewise: its body's examples are accounts "acc-002" and
        #    "acc-003", and an account's id cannot be changed (400), so they get the path's id.
        account_id = raw["components"]["parameters"]["accountId"]["schema"]["examples"][0]
        if op["operationId"] == "create-bank-transactions":
            for example in op["requestBody"]["content"]["application/json"].get("examples", {}).values():
                example["value"]["accountId"] = account_id
        if op["operationId"] == "update-source-account":
            body = copy.deepcopy(schemas["SourceAccount"])
            for example in body["examples"]:
                example["id"] = account_id
            op["requestBody"]["content"]["application/json"]["schema"] = body
        # 9. create-source-account and create-batch-source-account take a v1 or a v2 prototype
        #    (`oneOf`), but the v1 prototype requires only `id` and allows other properties, so
        #    every v2 body is a v1 body too and, under `oneOf`, no v2 body would be valid. Codat
        #    reads a body with v2's account types or objects as v2 (source_accounts/schemas.py):
        #    the branches are alternatives, `anyOf`.
        if op["operationId"] in ("create-source-account", "create-batch-source-account"):
            body = op["requestBody"]["content"]["application/json"]["schema"]
            body["anyOf"] = body.pop("oneOf")
    # 10. The list envelope caps `pageSize` at 2000 while the pageSize parameter allows up to 5000
    #     (reference §12: "pageSize caps differ"). A page of 5000 is served as asked and says so;
    #     the envelope's cap is raised to the parameter's.
    schemas["Companies"]["allOf"][1]["properties"]["pageSize"]["maximum"] = 5000
    # 11. The spec is OpenAPI 3.1 but still marks nullable fields with 3.0's `nullable: true`,
    #     which schemathesis honours by allowing null, except where an `enum` lists the values
    #     (transactionType, source account and routing-info fields): null is not among them, so
    #     the nullable field would refuse null. Null is added to those enums.
    for nullable_enum in _nullable_enums(raw):
        nullable_enum["enum"].append(None)
    # 12. create-bank-transactions: no transaction field is required by the schema; which ones a
    #     platform needs is a write rule, and a transaction breaking one fails the push operation
    #     (200, status Failed, the reason in its validation, as Codat reports push validation).
    #     A null id, date, amount or balance is read as not given and reported the same way
    #     (tests/bank_transactions/test_rules.py), so null is a valid value for them here.
    transaction = schemas["BankTransactions"]["items"]["properties"]
    for field in ("id", "date", "amount", "balance"):
        transaction[field] = {"anyOf": [transaction[field], {"type": "null"}]}
    # 13. A source account's id has no minLength, but an empty id could not be addressed in the
    #     paths of the account's other operations and is refused with 400; without a minimum,
    #     the coverage phase builds its batch cases on `"id": ""` and none reaches the rest.
    for name in ("SourceAccount", "SourceAccountV2"):
        schemas[name]["properties"]["id"]["minLength"] = 1
    # 14. GBP source accounts also need a sortCode (Codat's docs; 400 without one), a rule the
    #     schema cannot state. GBP comes first among the currency examples, so the coverage phase
    #     would build most source-account cases on a GBP account with no sortCode: USD goes
    #     first. create-source-account's own "Version 2" example is such an account too (GBP,
    #     a bankcode routingInfo, no sortCode): it is given one.
    currency = schemas["SourceAccount"]["properties"]["currency"]
    currency["examples"] = ["USD", *[c for c in currency["examples"] if c != "USD"]]
    for _, _, op in spec_operations(raw):
        if op["operationId"] == "create-source-account":
            op["requestBody"]["content"]["application/json"]["examples"]["Version 2"]["value"]["sortCode"] = "123456"
    return raw


def _nullable_enums(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("nullable") is True and None not in node.get("enum", [None]):
            yield node
        for value in node.values():
            yield from _nullable_enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nullable_enums(value)


RAW = adjusted_spec()
schema = schemathesis.openapi.from_dict(RAW, config=CONFIG).include(operation_id=operation_ids_under_test(RAW))

# The seeded resources, at the ids the spec uses in its examples (explicit and coverage cases draw
# on those); the push operation's key is fixed too, so every run sends the same requests.
SEEDED: dict[str, str] = {
    "companyId": "8a210b68-6988-11ed-a1eb-0242ac120002",
    "connectionId": "2e9d2c44-f675-40ba-8049-353bfcb5e171",
    "accountId": "13d946f0-c5d5-42bc-b092-97ece17923ab",
    "sourceAccountId": "13d946f0-c5d5-42bc-b092-97ece17923ab",
    "pushOperationKey": "5b0dc7b2-4a43-4b3f-9d3d-8d9d5b8c7e11",
}
# Account mapping and company information exist only for platforms that map accounts through
# the API (Xero); these operations get a Xero connection, every other one a QuickBooks Online
# connection (which has the credentials the credentials operations need).
XERO_OPERATIONS = {"get-bank-account-mapping", "create-bank-account-mapping", "get-company-information"}
# The account mapping examples map source account "acc-002": Xero operations get it too, unmapped.
UNMAPPED_ACCOUNT_ID = "acc-002"
# update-source-account's body is the v1 SourceAccount, so its seeded account is a v1 account;
# everywhere else it is a v2 account.
V1_OPERATIONS = {"update-source-account"}


@schema.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    """About half the cases (chosen by a checksum of the generated values, so the run stays
    deterministic) address the seeded resources; the rest keep whatever was generated."""
    if not path_parameters or zlib.crc32(repr(sorted(path_parameters.items())).encode()) % 2:
        return path_parameters
    return {name: SEEDED.get(name, value) for name, value in path_parameters.items()}


def seed(database: Database, clock: FrozenClock, operation_id: str) -> None:
    """The API key, a company with a Linked connection, a connected source account and a push
    operation, all at SEEDED's ids, shaped for the operation under test."""
    platform_key = "gbol" if operation_id in XERO_OPERATIONS else "hcws"
    company_id, connection_id = uuid.UUID(SEEDED["companyId"]), uuid.UUID(SEEDED["connectionId"])
    with database.unit_of_work() as session:
        session.add(ApiKey(name="contract", key_hash=sha256_hex(RAW_API_KEY), prefix=RAW_API_KEY[:8],
                           created_at=clock.now()))
        session.add(Company(id=company_id, name="Contract Co", tags={"region": "us"}, products=["bank-feeds"],
                            created_at=clock.now()))
        session.flush()
        connection = Connection(id=connection_id, company_id=company_id, platform_key=platform_key,
                                status="Linked", created_at=clock.now(), linked_at=clock.now())
        session.add(connection)
    make_source_account(database, clock, connection, SEEDED["accountId"], currency="USD", balance=Decimal("100"),
                        shape_version=1 if operation_id in V1_OPERATIONS else 2)
    if operation_id in XERO_OPERATIONS:
        make_source_account(database, clock, connection, UNMAPPED_ACCOUNT_ID, status="pending", currency="GBP",
                            sort_code="123456")
    with database.unit_of_work() as session:
        session.add(PushOperation(
            key=uuid.UUID(SEEDED["pushOperationKey"]), company_id=company_id, connection_id=connection_id,
            source_account_id=SEEDED["accountId"], data_type="bankTransactions", status="Success",
            status_code=200, requested_at=clock.now(), completed_at=clock.now(),
            validation={"errors": [], "warnings": []}, transaction_count=1,
        ))


def empty(database: Database) -> None:
    """Every table emptied with DELETE: on PostgreSQL much faster than TRUNCATE for small tables."""
    with database.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


# One database and one server for the module (migrating and starting them per operation cost
# more than the operations); every test still starts from empty tables and fresh seed data.
@pytest.fixture(scope="module")
def contract_database(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with own_database(db_kind, tmp_path_factory.mktemp("contract")) as url:
        database = Database(url)
        yield database
        database.dispose()


@pytest.fixture(scope="module")
def contract_clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture(scope="module")
def contract_app_server(contract_database: Database, contract_clock: FrozenClock) -> Iterator[LiveServer]:
    app = create_app(make_settings(contract_database.url), clock=contract_clock, database=contract_database,
                     run_worker=False)
    with LiveServer(app) as server:
        yield server


# An API key's "last used" (kept to the minute) is the bookkeeping of authentication, not a change
# the request made: every authenticated request may set it.
NOT_COMPARED = frozenset({("api_keys", "last_used_at")})


def snapshot(database: Database) -> dict[str, list[str]]:
    """Every row of every table, in a comparable form."""
    with database.engine.connect() as conn:
        return {table.name: sorted(repr(tuple(row)) for row in conn.execute(
                    sa.select(*(c for c in table.columns if (table.name, c.name) not in NOT_COMPARED))))
                for table in Base.metadata.sorted_tables}


class Seeding:
    """The seed data of the operation under test, and whether the tables still hold it untouched.

    Every operation starts from empty tables and fresh seed data, and so does every case after
    one that changed something, so each case meets the seed state (the first successful
    delete-company or unlink-connection does not leave the rest a 404 or a 400). A request that
    is a read or is refused (4xx) must change nothing: after each one the tables are compared
    with the seed state, which also makes reseeding after them unnecessary."""

    def __init__(self, database: Database, clock: FrozenClock) -> None:
        self.database, self.clock = database, clock
        self.operation_id: str | None = None
        self.seeded: dict[str, list[str]] = {}
        self.dirty = True
        self.phases: set[str] = set()

    def ready(self, operation_id: str) -> None:
        if self.dirty or operation_id != self.operation_id:
            empty(self.database)
            self.clock.set(NOW)
            seed(self.database, self.clock, operation_id)
            self.operation_id, self.seeded, self.dirty = operation_id, snapshot(self.database), False

    def changes(self) -> dict[str, Any]:
        """What differs from the seed state, table by table: rows gone and rows new."""
        now = snapshot(self.database)
        changes = {name: {"gone": sorted(set(rows) - set(now[name])), "new": sorted(set(now[name]) - set(rows))}
                   for name, rows in self.seeded.items() if now[name] != rows}
        if not changes:
            self.seeded = now
        return changes


@pytest.fixture
def seeding(contract_app_server: LiveServer, contract_database: Database,
            contract_clock: FrozenClock) -> Iterator[Seeding]:
    state = Seeding(contract_database, contract_clock)
    yield state
    # The coverage phase (boundary values, negative cases, missing and unexpected parameters,
    # unexpected methods, wrong content types) rides on Hypothesis' explicit phase: make sure it
    # ran, so dropping Phase.explicit or disabling it in CONFIG cannot pass silently.
    assert "coverage" in state.phases, f"no coverage-phase cases ran (phases seen: {sorted(state.phases)})"


def test_the_tested_operations_are_derived_from_our_routes() -> None:
    ids = operation_ids_under_test(RAW)
    # Core operations are always there; deliberately unserved or internal ones never are.
    assert {"create-company", "list-companies", "get-connection", "unlink-connection"} <= set(ids)
    assert not {"list-bank-accounts", "run-managed-bank-feed-ad-hoc-sync"} & set(ids)


@schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    database=None,
    # Phase.explicit carries the spec's examples and schemathesis' coverage phase; Phase.generate
    # the random (fuzzing) cases. Shrinking is left out: it would replay mutating requests.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_conforms_to_codat_spec(case: Any, contract_app_server: LiveServer, seeding: Seeding) -> None:
    if case.meta is not None:
        seeding.phases.add(case.meta.phase.name.value)
    seeding.ready(case.operation.definition.raw["operationId"])
    seeding.dirty = True  # until the tables are known to be untouched
    response = case.call(base_url=contract_app_server.url)
    # The checks may send more requests (ST401 without credentials, for one): all are compared.
    case.validate_response(response, transport_kwargs={"base_url": contract_app_server.url})
    if case.method.upper() == "GET" or 400 <= response.status_code < 500:
        # No read writes anything: not even get-connection, whose linkUrl OTP is signed, not stored.
        changes = seeding.changes()
        assert not changes, f"{case.method} {case.formatted_path} answered {response.status_code} but changed {changes}"
        seeding.dirty = False
