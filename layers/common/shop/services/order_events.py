"""OrderCompleted events: the committed order record, put on the bus by the orders pipe (an
EventBridge event whose detail is the table's DynamoDB stream record)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from shop.errors import NotAnOrderCompleted
from shop.models.order import Order
from shop.repositories.orders import order_from_stream_image

SOURCE = "shop.orders"
DETAIL_TYPE = "OrderCompleted"


def completed_order(event: Any) -> Order:
    """The order an OrderCompleted event carries; NotAnOrderCompleted for anything else (another
    source or detail type, a change other than an insert, no new image, an image that is not an
    order)."""
    if not isinstance(event, dict):
        raise NotAnOrderCompleted(f"an event is an object, not {type(event).__name__}")
    envelope = EventBridgeEvent(event)
    try:
        if (envelope.source, envelope.detail_type) != (SOURCE, DETAIL_TYPE):
            raise NotAnOrderCompleted(f"source {envelope.source!r}, detail-type {envelope.detail_type!r}")
        change = DynamoDBRecord(envelope.detail)
        if change.event_name is not DynamoDBRecordEventName.INSERT:
            raise NotAnOrderCompleted(f"a stream record of {change.event_name}, not of an insert")
        image = change.dynamodb.new_image if change.dynamodb is not None else {}
        if not image:
            raise NotAnOrderCompleted("the stream record holds no new image")
        return order_from_stream_image(image)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        if isinstance(error, NotAnOrderCompleted):
            raise
        raise NotAnOrderCompleted(f"{type(error).__name__}: {error}") from error
