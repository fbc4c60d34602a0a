"""The error body every refusal carries."""

from __future__ import annotations

from shop.models.base import ResponseModel


class ErrorBody(ResponseModel):
    code: str
    message: str
