"""Our public routes against the pinned spec: same paths, methods and operationIds.

Every route of the public API must be an operation of Codat's spec (or one of our documented
extensions), and every operation of the spec must be served or named below with the reason.
"""

from __future__ import annotations

import json

from fastapi import FastAPI

from tests.fixtures.specs import SPECS

METHODS = {"get", "post", "put", "patch", "delete"}

# Operations of the spec we deliberately do not serve, and why.
NOT_SERVED = {
    # Codat's embedded Link JS SDK only: no embedded link flow exists here.
    "get-company-access-token",
    # Managed bank feeds: Codat itself fetching from a bank; the bank pushes here instead.
    "get-managed-bank-feed-sync",
    "get-latest-managed-bank-feed-sync",
    "run-managed-bank-feed-ad-hoc-sync",
    # x-internal accounting bank accounts, not part of bank feeds.
    "list-bank-accounts",
    "get-create-bankAccounts-model",
    "create-bank-account",
}
# Surfaces that are not Codat's public API, and our own extensions of it.
OTHER_SURFACES = ("/partners/intuit/idx", "/link", "/sandbox", "/demo", "/healthz", "/docs", "/openapi.json")


def spec_operations() -> dict[tuple[str, str], str]:
    spec = json.loads((SPECS / "Codat-Bank-Feeds.json").read_text())
    return {
        (method, path): op["operationId"]
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def served_operations(app: FastAPI) -> dict[tuple[str, str], str]:
    served = {}
    for path, item in app.openapi()["paths"].items():
        if path.startswith(OTHER_SURFACES) or path.startswith("/webhooks"):
            continue
        for method, op in item.items():
            if method in METHODS and not op.get("x-bankfeeds-extension"):
                served[(method, path)] = op.get("operationId")
    return served


def test_every_public_route_is_a_spec_operation_with_its_operation_id(app: FastAPI) -> None:
    spec = spec_operations()
    served = served_operations(app)
    assert served, "no public routes found"
    mismatched = {key: op for key, op in served.items() if spec.get(key) != op}
    assert mismatched == {}, f"routes not in the spec, or with another operationId: {mismatched}"


def test_every_spec_operation_is_served_or_named_as_not_served(app: FastAPI) -> None:
    served = set(served_operations(app).values())
    missing = set(spec_operations().values()) - served - NOT_SERVED
    assert missing == set(), f"spec operations neither served nor listed in NOT_SERVED: {missing}"
    assert NOT_SERVED.isdisjoint(served), "an operation listed as not served is served"
