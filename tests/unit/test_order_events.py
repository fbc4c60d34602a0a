"""OrderCompleted events read with Powertools' EventBridge and DynamoDB stream data classes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shop.errors import NotAnOrderCompleted
from shop.services.order_events import completed_order
from tests.support.lambda_events import sample


def test_the_sample_event_carries_its_order_with_numbers_as_integers() -> None:
    order = completed_order(sample("sales_counter.json"))
    assert (order.order_id, order.user_id, order.paid_amount) == ("0194a1b2c3sample0001", "user-1", 84_000)
    assert [(line.product_id, line.quantity, line.unit_price) for line in order.items] == [("p-keyboard", 1, 89_000)]


def spoiled(change: Any) -> Any:
    event = copy.deepcopy(sample("sales_counter.json"))
    change(event)
    return event


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(spoiled(lambda e: e.update(source="shop.other")), id="another source"),
        pytest.param(spoiled(lambda e: e.update({"detail-type": "OrderCancelled"})), id="another detail-type"),
        pytest.param(spoiled(lambda e: e["detail"].update(eventName="REMOVE")), id="a removal"),
        pytest.param(spoiled(lambda e: e["detail"].update(eventName="RENAME")), id="an unknown change"),
        pytest.param(spoiled(lambda e: e["detail"]["dynamodb"].pop("NewImage")), id="no new image"),
        pytest.param(spoiled(lambda e: e["detail"]["dynamodb"]["NewImage"].pop("userId")), id="not an order"),
        pytest.param(spoiled(lambda e: e.pop("detail")), id="no detail"),
        pytest.param(["not", "an", "event"], id="not an object"),
    ],
)
def test_anything_else_is_not_an_order_completed(event: Any) -> None:
    with pytest.raises(NotAnOrderCompleted):
        completed_order(event)
