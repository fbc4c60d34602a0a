"""Coupon campaigns and the coupons issued from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from shop.ids import Id
from shop.models.base import RequestModel, ResponseModel

MAX_COUPON_QUANTITY = 100_000_000
MAX_VALID_DAYS = 3650
MAX_FIXED_DISCOUNT = 10_000_000


class FixedDiscount(RequestModel):
    type: Literal["FIXED"]
    amount: Annotated[int, Field(ge=1, le=MAX_FIXED_DISCOUNT)]

    def of(self, total: int) -> int:
        return min(self.amount, total)


class PercentDiscount(RequestModel):
    type: Literal["PERCENT"]
    rate: Annotated[int, Field(ge=1, le=100)]

    def of(self, total: int) -> int:
        """The rate of the total, rounded down to the won."""
        return total * self.rate // 100


Discount = Annotated[FixedDiscount | PercentDiscount, Field(discriminator="type")]

CouponName = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200)]


class NewCoupon(RequestModel):
    name: CouponName
    discount: Discount
    total_quantity: Annotated[int, Field(ge=1, le=MAX_COUPON_QUANTITY)]
    valid_days: Annotated[int, Field(ge=1, le=MAX_VALID_DAYS)]


class Coupon(ResponseModel):
    coupon_id: str
    name: str
    discount: Discount
    total_quantity: int
    remaining_quantity: int
    valid_days: int


class IssueCouponRequest(RequestModel):
    user_id: Id | None = None  # the caller when left out; another user's id is refused


CouponStatus = Literal["AVAILABLE", "USED", "EXPIRED"]


class IssuedCoupon(ResponseModel):
    issued_coupon_id: str
    coupon_id: str
    user_id: str
    name: str
    discount: Discount
    status: CouponStatus
    issued_at: datetime
    expires_at: datetime

    def seen_at(self, at: datetime) -> IssuedCoupon:
        """The coupon as a client sees it at `at`: an unused coupon past its validity is EXPIRED."""
        if self.status == "AVAILABLE" and at >= self.expires_at:
            return self.model_copy(update={"status": "EXPIRED"})
        return self


class IssuedCouponList(ResponseModel):
    items: list[IssuedCoupon]
