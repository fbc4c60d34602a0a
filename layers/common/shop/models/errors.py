"""The error body every refusal carries."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from shop.models.base import ResponseModel

MAX_MESSAGE = 300
"""The longest error message: a refusal names what failed, it never echoes the request back."""


def shorten(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` characters with an ellipsis when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _capped(value: Any) -> Any:
    return shorten(value, MAX_MESSAGE) if isinstance(value, str) else value


class ErrorBody(ResponseModel):
    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
    message: Annotated[str, BeforeValidator(_capped), Field(min_length=1, max_length=MAX_MESSAGE)]
