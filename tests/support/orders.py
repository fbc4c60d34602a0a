"""Paid orders built directly, for tests that go past the order service to the repositories."""

from __future__ import annotations

from datetime import datetime

from shop import clock
from shop.models.coupon import IssuedCoupon
from shop.models.order import Order, OrderItem
from shop.models.product import Product


def paid_order(
    lines: list[tuple[Product, int]],
    *,
    order_id: str = "o-1",
    user_id: str = "u-1",
    coupon: IssuedCoupon | None = None,
    at: datetime | None = None,
) -> Order:
    """The order of `lines` (product, quantity) at the products' prices, with no discount, paid
    in full, created `at` (now by default)."""
    items = [OrderItem(product_id=p.product_id, name=p.name, unit_price=p.price, quantity=q) for p, q in lines]
    total = sum(item.amount for item in items)
    return Order(
        order_id=order_id,
        user_id=user_id,
        items=items,
        total_amount=total,
        discount_amount=0,
        paid_amount=total,
        issued_coupon_id=coupon.issued_coupon_id if coupon else None,
        status="PAID",
        created_at=at or clock.now(),
    )
