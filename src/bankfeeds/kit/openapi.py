"""The served OpenAPI document: declared responses only, and no validation error no route returns.

Routes document their answers with ``responses=`` (:func:`responses`) rather than
``response_model``: they return ready ``Response`` objects, so a response model would only describe
them anyway, and ``responses`` says so. FastAPI adds a 422 ``HTTPValidationError`` to every
operation that has parameters or a body; no surface answers it (request validation errors are
rendered as each surface's 400 or 404), so :func:`install` takes them out of the served document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

# The schemas FastAPI adds for its default 422 response.
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_VALIDATION_REF = "#/components/schemas/HTTPValidationError"


def responses(
    status: int,
    model: Any = None,
    errors: Mapping[int, str] | None = None,
    *,
    error_model: Any = None,
    description: str = "Success",
    more: Mapping[int, dict[str, Any]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: its success (``model`` for its body, none without), each
    error status with its description in ``error_model``'s envelope, and any ``more`` as given."""
    documented: dict[int | str, dict[str, Any]] = {
        status: {"description": description, **({"model": model} if model is not None else {})},
    }
    for code, text in sorted((errors or {}).items()):
        documented[code] = {"description": text, **({"model": error_model} if error_model is not None else {})}
    for code, spec in (more or {}).items():
        documented[code] = spec
    return documented


def without_default_validation_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (changed in place) less FastAPI's default 422 on every operation, and less
    its schemas once nothing refers to them."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            unprocessable = operation.get("responses", {}).get("422")
            if unprocessable is not None and _VALIDATION_REF in json.dumps(unprocessable):
                del operation["responses"]["422"]
    schemas = document.get("components", {}).get("schemas", {})
    if _VALIDATION_SCHEMAS[0] in schemas:
        kept = {k: v for k, v in document.items() if k != "components"}
        kept["schemas"] = {k: v for k, v in schemas.items() if k not in _VALIDATION_SCHEMAS}
        if _VALIDATION_REF not in json.dumps(kept):
            for name in _VALIDATION_SCHEMAS:
                schemas.pop(name, None)
    return document


def install(app: FastAPI) -> None:
    """Serve ``app``'s document without FastAPI's default 422s. FastAPI builds and caches the
    document (rebuilding it when routes change); each new one is cleaned once."""
    build = app.openapi
    cleaned: list[int] = []

    def openapi() -> dict[str, Any]:
        document = build()
        if not cleaned or cleaned[0] != id(document):
            without_default_validation_errors(document)
            cleaned[:] = [id(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
