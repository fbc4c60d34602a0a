"""OrderCompleted, from the data platform queue -> the data platform.

Each SQS record's body is the EventBridge event the rule put on the queue. A record that fails is
reported in `batchItemFailures`: SQS shows it again after the queue's visibility timeout, and after
maxReceiveCount receives moves it to the dead-letter queue. The others of the batch are not resent.
Each POST carries `Authorization: Bearer <credential>` (`shop.data_platform_credential`); a 401 or
403 is a failed delivery like any other, logged as `CREDENTIAL REFUSED`.
"""

import json
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shop import tracing
from shop.errors import CredentialRefused, DataPlatformUnavailable, NotAnOrderCompleted
from shop.models.order import Order
from shop.observability import logger
from shop.services.data_platform import DataPlatformService
from shop.services.order_events import completed_order

service = DataPlatformService()
# A batch whose every record failed is answered like any other, with each record in
# batchItemFailures: the handler raising would redeliver the same records, and log it as a crash.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
sent: list[dict[str, str | None]] = []
"""The orders this invocation sent (and their events' ids), for its one log line."""


def order_of(record: SQSRecord) -> Order:
    try:
        return completed_order(json.loads(record.body))
    except ValueError as error:  # not JSON (a JSONDecodeError), or not the event (NotAnOrderCompleted)
        logger.error(
            "MALFORMED RECORD: not an OrderCompleted event; it fails on every receive and ends in the "
            "dead-letter queue",
            extra={
                "message_id": record.message_id,
                "receive_count": record.attributes.approximate_receive_count,
                "error": str(error),
                "body": record.body[:2000],
            },
        )
        raise NotAnOrderCompleted(str(error)) from error


def event_id_of(record: SQSRecord) -> str | None:
    """The id of the EventBridge event a record carries (None for a body that is not one)."""
    try:
        found = json.loads(record.body).get("id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return found if isinstance(found, str) else None


def forward(record: SQSRecord) -> str:
    with tracing.subsegment("## forward"):
        order = order_of(record)
        tracing.annotate({"order_id": order.order_id})
        with logger.append_context_keys(
            order_id=order.order_id, event_id=event_id_of(record), message_id=record.message_id
        ):
            try:
                service.send(order)
            except CredentialRefused as error:
                logger.error(
                    "CREDENTIAL REFUSED: the data platform does not take the credential in DataPlatformCredential; "
                    "the queue delivers the order again",
                    extra={"receive_count": record.attributes.approximate_receive_count, "error": error.message},
                )
                raise
            except DataPlatformUnavailable as error:
                logger.warning(
                    "order not sent; the queue delivers it again",
                    extra={"receive_count": record.attributes.approximate_receive_count, "error": error.message},
                )
                raise
    sent.append({"order_id": order.order_id, "event_id": event_id_of(record)})
    return order.order_id


@tracing.traced
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    started = time.perf_counter()
    sent.clear()
    answer = process_partial_response(event=event, record_handler=forward, processor=processor, context=context)
    logger.info(
        "batch forwarded",
        extra={
            "records": len(event.get("Records") or []),
            "failed": len(answer.get("batchItemFailures") or []),
            "sent": list(sent),
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return answer
