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
from shop.models.errors import ErrorBody
from shop.observability import logger, metrics

REFUSALS: dict[type[errors.ShopError], tuple[HTTPStatus, str]] = {
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
}


NOT_JSON = "body: Content-Type must be application/json"
NOT_UTF8 = "body: must be UTF-8 text"


def documented(*statuses: HTTPStatus) -> dict[int, dict[str, Any]]:
    """The OpenAPI description of the refusals a route can give, each with the error body."""
    return {
        status: {"description": status.phrase, "content": {"application/json": {"model": ErrorBody}}}
        for status in statuses
    }


def error_response(status: HTTPStatus, code: str, message: str) -> Response[dict[str, Any]]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=ErrorBody(code=code, message=message).model_dump(),
    )


def unsupported_media_type() -> dict[str, Any]:
    """The answer, as API Gateway takes it, to a body sent as another media type than JSON."""
    return unreadable_body(NOT_JSON)


def unreadable_body(message: str) -> dict[str, Any]:
    """The answer, as API Gateway takes it, to a body the resolver cannot be given."""
    body = ErrorBody(code="INVALID_REQUEST", message=message)
    return {
        "statusCode": int(HTTPStatus.BAD_REQUEST),
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": body.model_dump_json(),
        "isBase64Encoded": False,
    }


def describe_validation_errors(details: Sequence[Any]) -> str:
    """One line naming each field that failed and why, e.g. `body.amount: Input should be ...`."""
    parts = []
    for detail in details:
        location = ".".join(str(part) for part in detail.get("loc", ()))
        if detail.get("type") == "json_invalid":
            parts.append(f"body: {detail.get('ctx', {}).get('error') or 'not valid JSON'}")
        else:
            parts.append(f"{location}: {detail.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def internal_error() -> Response[dict[str, Any]]:
    """A fault: logged with its trace (call it inside `except`), answered without details."""
    logger.exception("unexpected error")
    metrics.add_metric(name="UnexpectedErrors", unit=MetricUnit.Count, value=1)
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "internal error")


def register(app: APIGatewayHttpResolver) -> None:
    """Register the contract's error answers on a resolver."""

    @app.exception_handler(errors.ShopError)
    def refused(error: errors.ShopError) -> Response[dict[str, Any]]:
        for kind in type(error).__mro__:
            if kind in REFUSALS:
                status, code = REFUSALS[kind]
                return error_response(status, code, error.message)
        return internal_error()

    @app.exception_handler(RequestValidationError)
    def invalid(error: RequestValidationError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.BAD_REQUEST, "INVALID_REQUEST", describe_validation_errors(error.errors()))

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported(error: RequestUnsupportedContentType) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.BAD_REQUEST, "INVALID_REQUEST", NOT_JSON)

    @app.not_found
    def not_found(error: NotFoundError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.NOT_FOUND, "NOT_FOUND", "no such route")

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[dict[str, Any]]:
        return internal_error()
