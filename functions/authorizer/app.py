"""The HTTP API's Lambda authorizer: verifies the bearer token, names the caller (`shop.auth`)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from shop.auth.authorizer import from_environment

logger = Logger()
authorizer = from_environment()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer, refused = authorizer(event)
    if refused is not None:
        logger.info("request refused", extra={"route": event.get("routeArn"), "reason": refused})
    return answer
