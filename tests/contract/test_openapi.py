"""The served ``/openapi.json`` against the pinned vendor specs: what each operation answers.

``test_routes.py`` holds paths, methods and operationIds; this file holds the responses. The
served document is what a bank's engineers read first, so for every public operation it must
document at least the statuses Codat's spec documents, more only where bankfeeds deliberately
answers more (each extra is named below with its reason), and a success body shaped like Codat's.

How bodies are compared (structure, not text). Both schemas are reduced to a *shape*: ``$ref``
followed (Codat's point into ``definitions`` too), ``allOf`` merged, a null branch dropped (3.0's
``nullable`` and 3.1's ``anyOf [X, null]`` say the same), other ``oneOf``/``anyOf`` kept as
alternatives. Then, recursively: an array must be an array of compatible items; an object must
have the same property names (differences are listed in ``PROPERTY_DIFFERENCES`` with reasons),
every property Codat requires must be required by ours too, and alternatives must each find a
compatible alternative of ours (a v1 and a v2 source account stay apart); where ours has
alternatives and Codat's has one, one of ours must be shaped like it. A free-form value (an
untyped object or list item) on either side ends the comparison there: it claims nothing to
contradict. Leaf types, formats, descriptions, examples and constraints are not compared: they differ in form between OpenAPI 3.0
and 3.1 without differing in meaning, and the response bodies themselves are validated against
Codat's schemas elsewhere (schemathesis, tests/e2e).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI

from bankfeeds.app import create_app
from bankfeeds.config import Settings
from tests.fixtures.specs import load_spec

METHODS = {"get", "post", "put", "patch", "delete"}
IDX_PREFIX = "/partners/intuit/idx"
ERROR_REF = "#/components/schemas/ErrorMessage"

# What bankfeeds answers beyond an operation's statuses in Codat's spec, and why. Keys: a method
# (every public operation of it) or an operationId.
EXTRA_STATUSES: dict[str, dict[int, str]] = {
    # The body-size limit (kit/http.BodySizeLimit) answers 413 before any route runs.
    "post": {413: "body too large", 409: "Idempotency-Key in progress", 422: "Idempotency-Key reused"},
    "patch": {413: "body too large", 409: "Idempotency-Key in progress", 422: "Idempotency-Key reused"},
    "put": {413: "body too large"},
    # Operations that take a body the spec documents no 400 for: a bad body is a 400 ErrorMessage,
    # as the same spec documents on its other operations (test_schemathesis.adjusted_spec, 1).
    "replace-company": {400: "bad body"},
    "update-company": {400: "bad body"},
    "create-connection": {400: "bad body", 409: "a company has one bank-feeds connection (adjusted_spec, 3)"},
    "unlink-connection": {400: "bad body"},
    # IDX: malformed paging (page, pageSize) and dates (startDate, endDate, X-Feed-Start-Date).
    "list-accounts": {400: "malformed paging"},
    "list-transactions": {400: "malformed paging or dates"},
}

COMPANY_OPERATIONS = ("create-company", "get-company", "replace-company", "update-company")
# Property names that differ from Codat's schema, by (operationId, JSON path in the body), and why.
PROPERTY_DIFFERENCES: dict[tuple[str, str], dict[str, set[str]]] = {
    # Company: no company hierarchy here, so no referenceParentCompany; `platform` (an empty string)
    # is sent as it has been since the first release, though the pinned schema has no such property.
    **{(op, "$"): {"missing": {"referenceParentCompany"}, "added": {"platform"}} for op in COMPANY_OPERATIONS},
    ("list-companies", "$.results[]"): {"missing": {"referenceParentCompany"}, "added": {"platform"}},
    # The deprecated `data` echo of the request is left out (bank_transactions/schemas.py).
    ("create-bank-transactions", "$"): {"missing": {"data"}},
    # The signing secret, shown once at creation (webhooks/endpoints.py); Codat's SDKs ignore it.
    ("create-webhook-consumer", "$"): {"added": {"signingSecret"}},
    # IDX credit cards: statement, APR and payment-due data are not part of a bank feed; left out.
    ("list-accounts", "$.results[].creditCardAccountInfo"): {"missing": {
        "advancesApr", "minimumPaymentDueAmount", "nextPaymentDate", "pastDueAmount", "pastDueDate",
        "purchasesApr", "statementPreviousGeneratedDate"}},
    ("list-accounts", "$.results[].creditCardAccountInfo.creditCardBalance"): {
        "missing": {"creditLimit", "lastStatementBalance"}},
}


@dataclass
class Shape:
    kind: str  # "object", "array", "oneOf" or "any"
    properties: dict[str, Any] = field(default_factory=dict)  # name -> schema node (resolved lazily)
    required: set[str] = field(default_factory=set)
    items: Any = None
    alternatives: list[Any] = field(default_factory=list)


def resolve_ref(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def shape(document: dict[str, Any], node: Any, seen: frozenset[str] = frozenset()) -> Shape:
    if not isinstance(node, dict):
        return Shape("any")
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            return Shape("any")
        return shape(document, {**resolve_ref(document, ref), **{k: v for k, v in node.items() if k != "$ref"}},
                     seen | {ref})
    branches = node.get("oneOf") or node.get("anyOf")
    if branches:
        real = [b for b in branches if b != {"type": "null"} and b.get("type") != "null"]
        if len(real) == 1:
            return shape(document, real[0], seen)
        return Shape("oneOf", alternatives=[shape(document, b, seen) for b in real])
    if "allOf" in node:
        merged = Shape("object")
        for part in node["allOf"]:
            sub = shape(document, part, seen)
            if sub.kind == "object":
                merged.properties.update(sub.properties)
                merged.required |= sub.required
        return merged
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "array" or "items" in node:
        return Shape("array", items=(document, node.get("items"), seen))
    if kind == "object" or "properties" in node:
        if not node.get("properties"):
            return Shape("any")
        return Shape("object", properties={k: (document, v, seen) for k, v in node["properties"].items()},
                     required=set(node.get("required", [])))
    return Shape("any")


def differences(operation_id: str, ours: Shape, theirs: Shape, path: str = "$") -> list[str]:
    """Where ``ours`` is not shaped like ``theirs``, as readable lines."""
    if theirs.kind == "any" or ours.kind == "any":
        return []  # nothing to compare: a leaf, or a free-form value on either side
    if theirs.kind == "oneOf":
        ours_alternatives = ours.alternatives if ours.kind == "oneOf" else [ours]
        found = []
        for i, alternative in enumerate(theirs.alternatives):
            if not any(not differences(operation_id, mine, alternative, f"{path}|{i}") for mine in ours_alternatives):
                found.append(f"{path}: no alternative of ours is shaped like Codat's alternative {i} "
                             f"({sorted(alternative.properties) or alternative.kind})")
        return found
    if ours.kind == "oneOf":  # e.g. a list that may mix v1 and v2 accounts, where Codat lists one kind
        if any(not differences(operation_id, mine, theirs, path) for mine in ours.alternatives):
            return []
        return [f"{path}: no alternative of ours is shaped like Codat's {theirs.kind}"]
    if ours.kind != theirs.kind:
        return [f"{path}: ours is {ours.kind}, Codat's is {theirs.kind}"]
    if theirs.kind == "array":
        return differences(operation_id, shape(*ours.items), shape(*theirs.items), f"{path}[]")
    allowed = PROPERTY_DIFFERENCES.get((operation_id, path), {})
    found = []
    missing = set(theirs.properties) - set(ours.properties) - allowed.get("missing", set())
    added = set(ours.properties) - set(theirs.properties) - allowed.get("added", set())
    if missing:
        found.append(f"{path}: properties missing from ours: {sorted(missing)}")
    if added:
        found.append(f"{path}: properties Codat's schema does not have: {sorted(added)}")
    not_required = (theirs.required & set(ours.properties)) - ours.required
    if not_required:
        found.append(f"{path}: Codat requires {sorted(not_required)}, ours does not")
    for name in sorted(set(theirs.properties) & set(ours.properties)):
        found += differences(operation_id, shape(*ours.properties[name]), shape(*theirs.properties[name]),
                             f"{path}.{name}")
    return found


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    """The served document, every surface mounted (demo mode), as a client would fetch it."""
    app = create_app(Settings(database_url="sqlite://", run_worker=False, demo=True), run_worker=False)
    return json.loads(json.dumps(app.openapi()))


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items()
            for method, op in item.items() if method in METHODS]


def vendor_operation(path: str, method: str) -> tuple[str, dict[str, Any]] | None:
    """The pinned spec and its operation for a served route, if the route is a vendor operation."""
    for spec_name, prefix in (("Codat-Bank-Feeds.json", ""), ("Codat-Platform-webhooks.json", ""),
                              ("Codat-Intuit-IDX.json", IDX_PREFIX)):
        if prefix and not path.startswith(prefix):
            continue
        op = load_spec(spec_name)["paths"].get(path.removeprefix(prefix), {}).get(method)
        if op is not None:
            return spec_name, op
    return None


def public_operations(served: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str, dict[str, Any]]]:
    found = []
    for path, method, op in operations(served):
        vendor = vendor_operation(path, method)
        if vendor is not None and not op.get("x-bankfeeds-extension"):
            found.append((path, method, op, *vendor))
    return found


def test_no_operation_documents_a_validation_error_it_never_answers(served: dict[str, Any]) -> None:
    text = json.dumps(served)
    assert "HTTPValidationError" not in text
    assert "ValidationError\"" not in text
    # 422 only where an Idempotency-Key can be reused, in the ErrorMessage envelope.
    for path, method, op in operations(served):
        if "422" in op["responses"]:
            assert method in ("post", "patch"), (method, path)
            assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"] == ERROR_REF


def test_every_operation_documents_its_success_and_errors(served: dict[str, Any]) -> None:
    for path, method, op in operations(served):
        codes = {int(c) for c in op["responses"]}
        successes = {c for c in codes if 200 <= c < 300}
        assert successes, f"{method} {path} documents no success"
        for code in successes - {204}:
            if method == "delete" and code == 200:
                continue  # delete-connection answers 200 with no body (as Codat's spec says)
            response = op["responses"][str(code)]
            assert "schema" in response.get("content", {}).get("application/json", {}), \
                f"{method} {path} documents no body for {code}"
        errors = codes - successes
        assert {401, 500, 503} <= errors, f"{method} {path} documents errors {sorted(errors)}"
        for code in errors:
            schema = op["responses"][str(code)]["content"]["application/json"]["schema"]
            if "$ref" in schema:  # create-batch-source-account's 409 is a result array
                assert schema["$ref"] == ERROR_REF, (method, path, code)


def test_public_operations_document_codats_statuses_and_only_the_named_extras(served: dict[str, Any]) -> None:
    ops = public_operations(served)
    assert len(ops) >= 28, f"only {len(ops)} vendor operations found"
    wrong = {}
    for _path, method, op, _, theirs in ops:
        ours_codes = {int(c) for c in op["responses"]}
        their_codes = {int(c) for c in theirs["responses"]}
        allowed = {**EXTRA_STATUSES.get(method, {}), **EXTRA_STATUSES.get(op["operationId"], {})}
        missing, extra = their_codes - ours_codes, ours_codes - their_codes - set(allowed)
        if missing or extra:
            wrong[op["operationId"]] = {"missing": sorted(missing), "not in Codat's spec": sorted(extra)}
    assert wrong == {}


def test_public_success_bodies_are_shaped_like_codats(served: dict[str, Any]) -> None:
    wrong = {}
    for _, _, op, spec_name, theirs in public_operations(served):
        for code, response in theirs["responses"].items():
            if not code.startswith("2"):
                continue
            their_schema = response.get("content", {}).get("application/json", {}).get("schema")
            our_schema = op["responses"][code].get("content", {}).get("application/json", {}).get("schema")
            if their_schema is None:
                assert our_schema is None, f"{op['operationId']} {code}: Codat documents no body"
                continue
            assert our_schema is not None, f"{op['operationId']} {code}: no body documented"
            found = differences(op["operationId"], shape(served, our_schema), shape(load_spec(spec_name), their_schema))
            if found:
                wrong[f"{op['operationId']} {code}"] = found
    assert wrong == {}


def test_the_comparison_sees_a_difference() -> None:
    """The comparison can fail: a property renamed, a requirement dropped, an array for an object."""
    spec = {"components": {"schemas": {"A": {"type": "object", "required": ["id"],
                                             "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}}}}
    theirs = shape(spec, {"$ref": "#/components/schemas/A"})
    renamed = {"type": "object", "required": ["id"], "properties": {"id": {}, "title": {}}}
    optional = {"type": "object", "properties": {"id": {}, "name": {}}}
    assert differences("x", shape({}, renamed), theirs)
    assert differences("x", shape({}, optional), theirs)
    assert differences("x", shape({}, {"type": "array", "items": optional}), theirs)
    assert not differences("x", shape({}, {"anyOf": [{**optional, "required": ["id"]}, {"type": "null"}]}), theirs)


def test_the_served_document_is_what_the_app_serves(app: FastAPI) -> None:
    assert app.openapi() is app.openapi()  # built once, cleaned once
    assert "HTTPValidationError" not in json.dumps(app.openapi())
