"""The resolver every route function uses, and its Lambda entry point."""

from __future__ import annotations

from collections.abc import Callable
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

ERROR_RESPONSES = errors.ERROR_RESPONSES


def create_app() -> APIGatewayHttpResolver:
    """A resolver that validates requests and responses with the shop's models and answers
    every refusal as the contract says."""
    app = APIGatewayHttpResolver(enable_validation=True)
    errors.register(app)
    return app


def entry_point(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of a route function: logs with the request's correlation id and
    flushes the metrics it recorded."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return handler
