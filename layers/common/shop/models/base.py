"""Base classes for the shop's models."""

from __future__ import annotations

import types
from decimal import Decimal
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

MAX_INTEGER_DIGITS = 100
"""An integral number with more digits than this is beyond every bound; it is refused as it is,
never converted (Python will not convert more than 4,300 digits)."""


def integral(value: Any) -> Any:
    """A number with no fractional part (`5.0`, `Decimal("5.0")`, `Decimal("5E+2")`) as the int it
    is; anything else as it is, for a strict int to refuse (`"5"`, `10.5`, `true`)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.adjusted() < MAX_INTEGER_DIGITS
        and value == value.to_integral_value()
    ):
        return int(value)
    return value


def _takes_an_int(annotation: Any) -> bool:
    """An `int` field, bounded (`Annotated[int, ...]`) or optional (`... | None`) or both."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if annotation is int:
        return True
    return get_origin(annotation) in (Union, types.UnionType) and any(_takes_an_int(a) for a in get_args(annotation))


def example(value: JsonDict) -> ConfigDict:
    """The configuration of a model whose JSON Schema (and so the API's OpenAPI document) shows
    `value` as its example."""
    return ConfigDict(json_schema_extra={"examples": [value]})


class RequestModel(BaseModel):
    """A request body: strict types, camelCase names only, no unknown fields.

    An integer field reads an integer as JSON Schema does: a JSON number with no fractional part,
    `5` or `5.0` (the body parser keeps such numbers exact); `"5"`, `10.5` and `true` are refused.
    Bounds stay on the field (`Annotated[int, Field(ge=1)]`) and show in its JSON Schema as
    `minimum`/`maximum` of `type: integer`.
    """

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
    )

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        names = [field.alias or name for name, field in cls.model_fields.items() if _takes_an_int(field.annotation)]
        present = [name for name in names if name in data]
        return {**data, **{name: integral(data[name]) for name in present}} if present else data


class ResponseModel(BaseModel):
    """A value the API answers with, written in camelCase."""

    model_config = ConfigDict(
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )
