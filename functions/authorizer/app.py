"""The HTTP API's Lambda authorizer: verifies the bearer token, names the caller (`shop.auth`)."""

import time
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shop import tracing
from shop.auth.authorizer import from_environment
from shop.observability import logger

authorizer = from_environment()


@tracing.traced
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    answer, refused = authorizer(event)
    tracing.annotate({"request_id": (event.get("requestContext") or {}).get("requestId")})
    logger.info(
        "request authorized" if refused is None else "request refused",
        extra={
            "route": event.get("routeKey"),
            "authorized": refused is None,
            **({"reason": refused} if refused is not None else {}),
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return answer
