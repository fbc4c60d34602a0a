"""Orders: what a user asks to buy, and the paid order recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic.config import JsonDict

from shop.ids import Id
from shop.models.base import RequestModel, ResponseModel, example

MAX_LINES = 50
MAX_LINE_QUANTITY = 10_000


class OrderLine(RequestModel):
    product_id: Id
    quantity: Annotated[int, Field(ge=1, le=MAX_LINE_QUANTITY)]


class PlaceOrder(RequestModel):
    model_config = example(
        {
            "items": [{"productId": "0193a4f2c1e8d3b5a7f90c1e2d4", "quantity": 2}],
            "issuedCouponId": "q3v0mJ9xT2kLw8YbN4cR1sUe",
        }
    )

    user_id: Id | None = None  # the caller when left out; another user's id is refused
    items: Annotated[list[OrderLine], Field(min_length=1, max_length=MAX_LINES)]
    issued_coupon_id: Id | None = None

    @field_validator("items")
    @classmethod
    def each_product_once(cls, items: list[OrderLine]) -> list[OrderLine]:
        seen: set[str] = set()
        for line in items:
            if line.product_id in seen:
                raise ValueError(f"product {line.product_id} appears more than once")
            seen.add(line.product_id)
        return items


class OrderItem(ResponseModel):
    product_id: str
    name: str
    unit_price: int
    quantity: int

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity


ORDER_EXAMPLE: JsonDict = {
    "orderId": "0193a4f3d2e1c0b9a8f7e6d5c4b",
    "userId": "u-1001",
    "items": [
        {"productId": "0193a4f2c1e8d3b5a7f90c1e2d4", "name": "Mechanical keyboard", "unitPrice": 89_000, "quantity": 2}
    ],
    "totalAmount": 178_000,
    "discountAmount": 17_800,
    "paidAmount": 160_200,
    "issuedCouponId": "q3v0mJ9xT2kLw8YbN4cR1sUe",
    "status": "PAID",
    "createdAt": "2026-11-24T09:30:00+09:00",
}


class Order(ResponseModel):
    model_config = example(ORDER_EXAMPLE)

    order_id: str
    user_id: str
    items: list[OrderItem]
    total_amount: int
    discount_amount: int
    paid_amount: int
    issued_coupon_id: str | None = None
    status: Literal["PAID"]
    created_at: datetime


class OrderPage(ResponseModel):
    model_config = example({"items": [ORDER_EXAMPLE], "nextCursor": None})

    items: list[Order]
    next_cursor: str | None
