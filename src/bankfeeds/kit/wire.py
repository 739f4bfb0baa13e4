"""Base for wire schemas: camelCase aliases, strict money, forbid unknown fields where the spec does."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, WithJsonSchema
from pydantic.alias_generators import to_camel


def _number_only(value: Any) -> Any:
    # JSON numbers arrive as Decimal (floats) or int; strings and booleans are not numbers.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValueError("must be a JSON number")
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


Money = Annotated[Decimal, BeforeValidator(_number_only), AfterValidator(_finite)]
# An exact decimal in a response: sent as a JSON number (kit/http.JSONResponse), documented as one.
Number = Annotated[Decimal, WithJsonSchema({"type": "number", "format": "decimal"})]


class WireModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class StrictWireModel(WireModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
