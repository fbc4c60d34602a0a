"""Every refusal the API gives, mapped to the contract's status and code in one place."""

from __future__ import annotations

import re
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
from shop.ids import ID_PATTERN
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

RETRY_AFTER_SECONDS = 2
"""How long a client should wait before asking again after OUTCOME_UNKNOWN."""


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


def outcome_unknown(message: str) -> Response[dict[str, Any]]:
    """503 OUTCOME_UNKNOWN: the database did not answer in time; the client may retry (with the
    same Idempotency-Key to learn the real outcome) after Retry-After seconds."""
    logger.warning(OUTCOME_UNKNOWN_MESSAGE, extra={"reason": message})
    metrics.add_metric(name="OutcomeUnknown", unit=MetricUnit.Count, value=1)
    return error_response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "OUTCOME_UNKNOWN",
        message,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def raw_answer(status: HTTPStatus, code: str, message: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A refusal as API Gateway takes it from the function, for answers given before or outside
    the resolver."""
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": content_types.APPLICATION_JSON, **(headers or {})},
        "body": ErrorBody(code=code, message=message).model_dump_json(),
        "isBase64Encoded": False,
    }


def invalid_request(message: str) -> dict[str, Any]:
    """The `400 INVALID_REQUEST` answer, as API Gateway takes it, to a request refused before the
    resolver reads it."""
    return raw_answer(HTTPStatus.BAD_REQUEST, "INVALID_REQUEST", message)


def unsupported_media_type() -> dict[str, Any]:
    """The answer, as API Gateway takes it, to a body sent as another media type than JSON."""
    return invalid_request(NOT_JSON)


def refusal(error: errors.Refusal) -> tuple[HTTPStatus, str] | None:
    """The contract's status and code of a domain error (None: not a refusal, a fault)."""
    for kind in type(error).__mro__:
        if kind in REFUSALS:
            return REFUSALS[kind]
    return None


def refused_answer(error: errors.Refusal) -> dict[str, Any]:
    """A refusal given before the resolver runs, as API Gateway takes it."""
    status, code = refusal(error) or (HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
    return raw_answer(status, code, error.message)


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


def ids_outside_the_pattern(event: dict[str, Any]) -> str | None:
    """The refusal of a request whose route API Gateway matched (it names the route in `routeKey`
    and gives the path parameters) with a path parameter that is not an id, matched whole. Every
    path parameter is an id, so this is a 400, checked before the resolver runs: its route
    patterns match none of some such paths (a slash, a symbol, nothing at all: an unknown route
    to it) and let others through cut short (their "$" matches before a trailing newline)."""
    route_key = event.get("routeKey")
    parameters = event.get("pathParameters")
    if not isinstance(route_key, str) or route_key == "$default" or not isinstance(parameters, dict):
        return None
    outside = [
        f"path.{shorten(str(name), 40)}: String should match pattern '{ID_PATTERN}'"
        for name, value in sorted(parameters.items())
        if not isinstance(value, str) or not re.fullmatch(ID_PATTERN, value)
    ]
    return "; ".join(outside) or None


def internal_error() -> Response[dict[str, Any]]:
    """A fault: logged with its trace (call it inside `except`), answered without details."""
    logger.exception("unexpected error")
    metrics.add_metric(name="UnexpectedErrors", unit=MetricUnit.Count, value=1)
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "internal error")


def register(app: APIGatewayHttpResolver) -> None:
    """Register the contract's error answers on a resolver."""

    @app.exception_handler(errors.Refusal)
    def refused(error: errors.Refusal) -> Response[dict[str, Any]]:
        known = refusal(error)
        if known is None:
            return internal_error()
        return error_response(*known, error.message)

    @app.exception_handler(RequestValidationError)
    def invalid(error: RequestValidationError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.BAD_REQUEST, "INVALID_REQUEST", describe_validation_errors(error.errors()))

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported(error: RequestUnsupportedContentType) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.BAD_REQUEST, "INVALID_REQUEST", NOT_JSON)

    @app.not_found
    def not_found(error: NotFoundError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.NOT_FOUND, "NOT_FOUND", "no such route")

    @app.exception_handler(errors.OutcomeUnknown)
    def unknown(error: errors.OutcomeUnknown) -> Response[dict[str, Any]]:
        return outcome_unknown(error.message)

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[dict[str, Any]]:
        return internal_error()
