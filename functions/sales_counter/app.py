"""OrderCompleted -> units sold per product per day, and the popular ranking."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shop.observability import logger
from shop.services.order_events import completed_order
from shop.services.popular import SalesCountingService

service = SalesCountingService()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    order = completed_order(event)
    logger.append_keys(order_id=order.order_id)
    service.count(order)
    return {"orderId": order.order_id, "status": "COUNTED"}
