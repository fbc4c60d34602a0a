"""Orders: what a user asks to buy, and the paid order recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from shop.ids import Id
from shop.models.base import RequestModel, ResponseModel

MAX_LINES = 50
MAX_LINE_QUANTITY = 10_000


class OrderLine(RequestModel):
    product_id: Id
    quantity: Annotated[int, Field(ge=1, le=MAX_LINE_QUANTITY)]


class PlaceOrder(RequestModel):
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


class Order(ResponseModel):
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
    items: list[Order]
    next_cursor: str | None
