"""The resolver every route function uses, and its Lambda entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shop.api import errors
from shop.ids import ID_PATTERN
from shop.models.errors import ErrorBody
from shop.observability import logger, metrics

UserId = Annotated[str, Path(pattern=ID_PATTERN, description="User id")]
ProductId = Annotated[str, Path(pattern=ID_PATTERN, description="Product id")]
CouponId = Annotated[str, Path(pattern=ID_PATTERN, description="Coupon campaign id")]

BAD_REQUEST, NOT_FOUND, CONFLICT = HTTPStatus.BAD_REQUEST, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT
refusals = errors.documented


def json_object(body: str) -> dict[str, Any]:
    """A request body: JSON, and an object (a list or a scalar is refused, not unwrapped)."""
    value = json.loads(body)
    if not isinstance(value, dict):
        raise json.JSONDecodeError("must be a JSON object", body, 0)
    return value


def create_app() -> APIGatewayHttpResolver:
    """A resolver that validates requests and responses with the shop's models and answers
    every refusal as the contract says."""
    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=json_object)
    errors.register(app)
    return app


def unsupported_media_type(event: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a body that declares itself other than JSON (form or multipart bodies would
    otherwise be parsed as form fields), or None."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if not event.get("body") or content_type in ("", "application/json") or content_type.endswith("+json"):
        return None
    status = HTTPStatus.BAD_REQUEST
    body = ErrorBody(code="INVALID_REQUEST", message="body: Content-Type must be application/json")
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": "application/json"},
        "body": body.model_dump_json(),
        "isBase64Encoded": False,
    }


def entry_point(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of a route function: logs with the request's correlation id and
    flushes the metrics it recorded."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return unsupported_media_type(event) or app.resolve(event, context)

    return handler
