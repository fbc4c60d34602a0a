"""The HTTP API's Lambda authorizer: verifies the bearer token, names the caller (`shop.auth`).

Traced by Lambda itself (`Tracing: Active`: its initialization and invocation in the request's
trace) but without the X-Ray SDK: the SDK imports botocore, which this function never uses, and
would double its cold start on the path of every authenticated request (bench/README.md, section
9) for one annotation. Its log line carries the request id instead.
"""

import time
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shop.auth.authorizer import from_environment
from shop.observability import logger

authorizer = from_environment()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    answer, refused = authorizer(event)
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
