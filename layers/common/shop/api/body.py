"""Reading a request body: bounded in size, depth and numbers, so hostile input is refused as
invalid instead of exhausting the function.

Every refusal here is a `json.JSONDecodeError` (the resolver answers it `400 INVALID_REQUEST`,
naming the body) whose message is short and never quotes the body.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from shop.errors import BodyRefused
from shop.models.base import MAX_INTEGER_DIGITS
from shop.models.errors import shorten

MAX_BODY_BYTES = 64 * 1024
"""The largest body a function reads (`shop.api.http.Admission` refuses a larger one). The largest valid
body, an order of 50 lines, is a few kilobytes."""

MAX_DEPTH = 16
"""The deepest nesting of objects and arrays read. Valid bodies nest 3 deep (order, lines, line)."""


def _refuse(message: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(message, "", 0)


def _integer(text: str) -> int | Decimal:
    """An integer literal; a longer one than any bound needs stays a `Decimal`, which the models
    refuse as it is (Python will not convert more than 4,300 digits to an int)."""
    return int(text) if len(text) <= MAX_INTEGER_DIGITS else Decimal(text)


def _constant(name: str) -> Any:
    raise _refuse(f"{name} is not a JSON number")


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise _refuse(f"field {shorten(key, 64)!r} appears more than once")
        value[key] = item
    return value


def _check_shape(value: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH and text that is not Unicode (lone surrogates, which
    JSON's `\\ud800` escapes allow but UTF-8 and DynamoDB do not)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise _refuse(f"nested deeper than {MAX_DEPTH} levels")
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str):
                    _check_text(key)
                pending.append((child, depth + 1))


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _refuse("a string holds an unpaired surrogate escape") from error


def json_object(body: str) -> dict[str, Any]:
    """A request body: JSON, and an object (a list or a scalar is refused, not unwrapped).

    Numbers are read exactly: an integer as `int`, any other number as `Decimal` (so `5.0` is
    `Decimal("5.0")`, which the models' integer type takes as 5, and `10.5` stays a fraction).
    `NaN` and `Infinity` are not JSON; a field given twice is refused rather than read as the last.
    """
    try:
        value = json.loads(
            body,
            parse_int=_integer,
            parse_float=Decimal,
            parse_constant=_constant,
            object_pairs_hook=_unique_fields,
        )
    except json.JSONDecodeError as error:
        raise _refuse(shorten(error.msg, 100)) from None
    except RecursionError:
        raise _refuse(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise _refuse("not valid JSON") from None
    if not isinstance(value, dict):
        raise _refuse("must be a JSON object")
    _check_shape(value)
    return value


def body_size(event: dict[str, Any]) -> int:
    """The size in bytes of an event's body (decoded from base64 when API Gateway encoded it)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return len(body) * 3 // 4
    return len(body.encode("utf-8", "surrogatepass"))


def decoded(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a base64-encoded body decoded to text; BodyRefused when the bytes are not
    base64 or not UTF-8."""
    if not event.get("isBase64Encoded") or not event.get("body"):
        return event
    try:
        text = base64.b64decode(event["body"], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise BodyRefused("body: not UTF-8 text") from error
    return {**event, "body": text, "isBase64Encoded": False}
