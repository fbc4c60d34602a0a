"""Every refusal the API gives, mapped to the contract's status and code in one place."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.metrics import MetricUnit

from shop import errors
from shop.models.errors import MAX_MESSAGE, ErrorBody, shorten
from shop.observability import logger, metrics

REFUSALS: dict[type[errors.Refusal], tuple[HTTPStatus, str]] = {
    errors.InvalidRequest: (HTTPStatus.BAD_REQUEST, "INVALID_REQUEST"),
    errors.BalanceLimitExceeded: (HTTPStatus.CONFLICT, "BALANCE_LIMIT_EXCEEDED"),
    errors.ProductNotFound: (HTTPStatus.NOT_FOUND, "PRODUCT_NOT_FOUND"),
    errors.OutOfStock: (HTTPStatus.CONFLICT, "OUT_OF_STOCK"),
    errors.InsufficientBalance: (HTTPStatus.CONFLICT, "INSUFFICIENT_BALANCE"),
    errors.InvalidCoupon: (HTTPStatus.CONFLICT, "INVALID_COUPON"),
    errors.CouponNotFound: (HTTPStatus.NOT_FOUND, "COUPON_NOT_FOUND"),
    errors.CouponSoldOut: (HTTPStatus.CONFLICT, "COUPON_SOLD_OUT"),
    errors.CouponAlreadyIssued: (HTTPStatus.CONFLICT, "COUPON_ALREADY_ISSUED"),
    errors.ConcurrentUpdate: (HTTPStatus.CONFLICT, "CONCURRENT_UPDATE"),
    errors.InvalidCursor: (HTTPStatus.BAD_REQUEST, "INVALID_REQUEST"),
    errors.Unauthenticated: (HTTPStatus.UNAUTHORIZED, "UNAUTHORIZED"),
    errors.Forbidden: (HTTPStatus.FORBIDDEN, "FORBIDDEN"),
    errors.OrderNotFound: (HTTPStatus.NOT_FOUND, "ORDER_NOT_FOUND"),
    errors.IdempotencyKeyReused: (HTTPStatus.UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED"),
    errors.IdempotencyInProgress: (HTTPStatus.CONFLICT, "IDEMPOTENCY_IN_PROGRESS"),
    errors.OutcomeUnknown: (HTTPStatus.SERVICE_UNAVAILABLE, "OUTCOME_UNKNOWN"),
}
"""The contract's status and code of each refusal (a subclass takes its base's, unless named)."""

RETRY_AFTER_SECONDS: dict[type[errors.Refusal], int] = {
    errors.OutcomeUnknown: 2,
    errors.IdempotencyInProgress: 1,
}
"""How long a client should wait before asking again, answered as `Retry-After`."""


NOT_JSON = "body: Content-Type must be application/json"


def documented(*statuses: HTTPStatus) -> dict[int, dict[str, Any]]:
    """The OpenAPI description of the refusals a route can give, each with the error body."""
    return {
        status: {"description": status.phrase, "content": {"application/json": {"model": ErrorBody}}}
        for status in statuses
    }


def error_response(
    status: HTTPStatus, code: str, message: str, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=ErrorBody(code=code, message=message).model_dump(),
        headers=headers,
    )


OUTCOME_UNKNOWN_MESSAGE = "outcome unknown"
"""The message of the record an unknown outcome logs (the saved queries of template.yaml filter on it)."""


def refusal(error: errors.Refusal) -> tuple[HTTPStatus, str] | None:
    """The contract's status and code of a refusal (None: in no row, a fault)."""
    for kind in type(error).__mro__:
        if kind in REFUSALS:
            return REFUSALS[kind]
    return None


def refused(error: errors.Refusal) -> Response[dict[str, Any]]:
    """A refusal as the contract answers it; `503 OUTCOME_UNKNOWN` (the client may retry, with the
    same Idempotency-Key to learn the real outcome) is also logged and counted."""
    known = refusal(error)
    if known is None:
        return internal_error()
    if isinstance(error, errors.OutcomeUnknown):
        logger.warning(OUTCOME_UNKNOWN_MESSAGE, extra={"reason": error.message})
        metrics.add_metric(name="OutcomeUnknown", unit=MetricUnit.Count, value=1)
    wait = next((seconds for kind, seconds in RETRY_AFTER_SECONDS.items() if isinstance(error, kind)), None)
    return error_response(*known, error.message, headers={"Retry-After": str(wait)} if wait is not None else None)


MAX_NAMED = 3
"""A refusal names at most this many failed fields, and counts the others."""


def describe_validation_errors(details: Sequence[Any]) -> str:
    """Each field that failed and why, e.g. `body.amount: Input should be ...`: the first few,
    each cut short, as many as fit the message, then how many more (a body of 5,000 unknown
    fields is not echoed back)."""
    parts: list[str] = []
    for detail in details[:MAX_NAMED]:
        location = shorten(".".join(str(part) for part in detail.get("loc", ())), 60)
        if detail.get("type") == "json_invalid":
            part = f"body: {shorten(str(detail.get('ctx', {}).get('error') or 'not valid JSON'), 120)}"
        else:
            part = f"{location}: {shorten(str(detail.get('msg', 'invalid')), 120)}"
        if parts and len("; ".join([*parts, part])) > MAX_MESSAGE - 30:
            break
        parts.append(part)
    if len(details) > len(parts):
        parts.append(f"and {len(details) - len(parts):,} more")
    return "; ".join(parts) or "invalid request"


def internal_error() -> Response[dict[str, Any]]:
    """A fault: logged with its trace (call it inside `except`), answered without details."""
    logger.exception("unexpected error")
    metrics.add_metric(name="UnexpectedErrors", unit=MetricUnit.Count, value=1)
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "internal error")


def answer(error: Exception) -> Response[dict[str, Any]]:
    """The answer to any error raised while a request is resolved (call it inside `except`): a
    refusal as its row says, a request the resolver could not read or route as `400` or `404`,
    anything else as a fault."""
    if isinstance(error, errors.Refusal):
        return refused(error)
    if isinstance(error, RequestValidationError):
        return error_response(HTTPStatus.BAD_REQUEST, "INVALID_REQUEST", describe_validation_errors(error.errors()))
    if isinstance(error, RequestUnsupportedContentType):
        return error_response(HTTPStatus.BAD_REQUEST, "INVALID_REQUEST", NOT_JSON)
    if isinstance(error, NotFoundError):
        return error_response(HTTPStatus.NOT_FOUND, "NOT_FOUND", "no such route")
    return internal_error()


def register(app: APIGatewayHttpResolver) -> None:
    """Answer every error the resolver meets with `answer` (a route that matched none is a
    `NotFoundError`, hence 404)."""
    app.exception_handler(Exception)(answer)
