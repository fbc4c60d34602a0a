"""OrderCompleted events: the committed order record, put on the bus by the orders pipe."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shop.models.order import Order
from shop.repositories.orders import order_from_stream_image


class StreamRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    new_image: dict[str, Any] = Field(alias="NewImage")


class OrderStreamChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_name: Literal["INSERT"] = Field(alias="eventName")
    dynamodb: StreamRecord


class OrderCompletedEvent(BaseModel):
    """The EventBridge envelope of an OrderCompleted event."""

    model_config = ConfigDict(extra="ignore")

    id: str
    source: Literal["shop.orders"]
    detail_type: Literal["OrderCompleted"] = Field(alias="detail-type")
    detail: OrderStreamChange


def completed_order(event: dict[str, Any]) -> Order:
    """The order an OrderCompleted event carries."""
    parsed = OrderCompletedEvent.model_validate(event)
    return order_from_stream_image(parsed.detail.dynamodb.new_image)
