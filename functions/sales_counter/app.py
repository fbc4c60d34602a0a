"""OrderCompleted -> units sold per product per day, and the popular ranking."""

import time
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shop import tracing
from shop.observability import identify, logger
from shop.services.order_events import completed_order
from shop.services.popular import SalesCountingService

service = SalesCountingService()


@tracing.traced
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    started = time.perf_counter()
    order = completed_order(event)
    identify(order_id=order.order_id)
    service.count(order)
    logger.info("OrderCompleted handled", extra={"latency_ms": round((time.perf_counter() - started) * 1000, 1)})
    return {"orderId": order.order_id, "status": "COUNTED"}
