"""The resolver every route function uses, and its Lambda entry point."""

from __future__ import annotations

import base64
import binascii
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


def text_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """The event with a base64-encoded body (API Gateway sends a body that is not UTF-8 text so)
    decoded, or None when it is not UTF-8 text."""
    if not event.get("isBase64Encoded") or not event.get("body"):
        return event
    try:
        body = base64.b64decode(str(event["body"]), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return {**event, "body": body, "isBase64Encoded": False}


def json_request(event: dict[str, Any]) -> dict[str, Any] | None:
    """The event with its body's media type spelled as the resolver expects (`application/json`,
    whatever the case), or None when the body declares another media type: form or multipart
    bodies would otherwise be parsed as fields."""
    headers = event.get("headers") or {}
    declared = next((key for key in headers if str(key).lower() == "content-type"), None)
    if declared is None or not event.get("body"):
        return event
    media_type, _, parameters = str(headers[declared]).partition(";")
    if media_type.strip().lower() != "application/json":
        return None
    normalised = {k: v for k, v in headers.items() if k != declared}
    normalised["content-type"] = "application/json" + (f";{parameters}" if parameters else "")
    return {**event, "headers": normalised}


def entry_point(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of a route function: logs with the request's correlation id and
    flushes the metrics it recorded."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        text = text_body(event)
        if text is None:
            return errors.unreadable_body(errors.NOT_UTF8)
        request = json_request(text)
        if request is None:
            return errors.unsupported_media_type()
        return app.resolve(request, context)

    return handler
