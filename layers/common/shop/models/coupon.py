"""Coupon campaigns and the coupons issued from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from pydantic.config import JsonDict

from shop.ids import Id
from shop.models.base import RequestModel, ResponseModel, example

MAX_COUPON_QUANTITY = 100_000_000
MAX_VALID_DAYS = 3650
MAX_FIXED_DISCOUNT = 10_000_000

# A campaign's remaining quantity is split across `shards` items, each on its own partition.
# At most 100: one transaction creates them all, one BatchGetItem reads them all.
MAX_SHARDS = 100
COUPONS_PER_SHARD = 100
DEFAULT_MAX_SHARDS = MAX_SHARDS


def default_shards(total_quantity: int) -> int:
    """One shard per 100 coupons, at most 100: a campaign of up to 100 is one item, exactly as
    before; 10,000 coupons or more get 100 shards (about 10,000 issues/s in the simulation of
    `bench/flashsale.py`). An issue costs the same whatever the count; more shards cost more only
    to read the exact remaining quantity (1 RCU per shard) and when a request's shard is empty."""
    return max(1, min(DEFAULT_MAX_SHARDS, -(-total_quantity // COUPONS_PER_SHARD)))


def split(total_quantity: int, shards: int) -> list[int]:
    """The quantity each shard starts with: as even as possible, the first ones one more."""
    base, extra = divmod(total_quantity, shards)
    return [base + (1 if index < extra else 0) for index in range(shards)]


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
    model_config = example(
        {"name": "Winter sale 10%", "discount": {"type": "PERCENT", "rate": 10}, "totalQuantity": 1000, "validDays": 30}
    )

    name: CouponName
    discount: Discount
    total_quantity: Annotated[int, Field(ge=1, le=MAX_COUPON_QUANTITY)]
    valid_days: Annotated[int, Field(ge=1, le=MAX_VALID_DAYS)]
    shards: Annotated[int, Field(ge=1, le=MAX_SHARDS)] | None = None

    @property
    def shard_count(self) -> int:
        """The number of shards asked for (at most one per coupon, so that no shard starts empty),
        or the default for the quantity. More shards than coupons is not refused: the published
        document cannot say that one field is bounded by another."""
        asked = self.shards if self.shards is not None else default_shards(self.total_quantity)
        return min(asked, self.total_quantity)


class Coupon(ResponseModel):
    model_config = example(
        {
            "couponId": "0193a4d0e9f8a7b6c5d4e3f2a1b",
            "name": "Winter sale 10%",
            "discount": {"type": "PERCENT", "rate": 10},
            "totalQuantity": 1000,
            "remainingQuantity": 997,
            "validDays": 30,
        }
    )

    coupon_id: str
    name: str
    discount: Discount
    total_quantity: int
    remaining_quantity: int
    valid_days: int


class CouponShard(ResponseModel):
    """One shard of a campaign as stored: the campaign's own data (copied on every shard, so an
    issue reads one item), this shard's part of the remaining quantity, and whether the whole
    campaign is known to be sold out."""

    campaign: Coupon
    index: int
    count: int
    remaining_quantity: int
    sold_out: bool = False

    @property
    def answers_sold_out(self) -> bool:
        """This one read is enough to answer COUPON_SOLD_OUT."""
        return self.sold_out or (self.count == 1 and self.remaining_quantity <= 0)


class IssueCouponRequest(RequestModel):
    model_config = example({"userId": "u-1001"})

    user_id: Id | None = None  # the caller when left out; another user's id is refused


CouponStatus = Literal["AVAILABLE", "USED", "EXPIRED"]


ISSUED_COUPON_EXAMPLE: JsonDict = {
    "issuedCouponId": "q3v0mJ9xT2kLw8YbN4cR1sUe",
    "couponId": "0193a4d0e9f8a7b6c5d4e3f2a1b",
    "userId": "u-1001",
    "name": "Winter sale 10%",
    "discount": {"type": "PERCENT", "rate": 10},
    "status": "AVAILABLE",
    "issuedAt": "2026-11-24T09:30:00+09:00",
    "expiresAt": "2026-12-24T09:30:00+09:00",
}


class IssuedCoupon(ResponseModel):
    model_config = example(ISSUED_COUPON_EXAMPLE)

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
    model_config = example({"items": [ISSUED_COUPON_EXAMPLE]})

    items: list[IssuedCoupon]
