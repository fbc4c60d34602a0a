"""OrderCompleted -> the data platform. A failure raises, so the delivery is retried."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shop.observability import logger
from shop.services.data_platform import DataPlatformService
from shop.services.order_events import completed_order

service = DataPlatformService()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    order = completed_order(event)
    logger.append_keys(order_id=order.order_id)
    service.send(order)
    return {"orderId": order.order_id, "status": "SENT"}
