"""Order and payment."""

from __future__ import annotations

import time
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from shop import clock
from shop.errors import (
    AlreadyApplied,
    ConcurrentUpdate,
    InvalidCoupon,
    OrderNotFound,
    OutcomeUnknown,
    OutOfStock,
    PriceChanged,
    ProductNotFound,
    Refusal,
)
from shop.identity import Caller
from shop.ids import derived_id, new_id
from shop.models.coupon import IssuedCoupon
from shop.models.order import Order, OrderItem, OrderPage, PlaceOrder
from shop.models.product import Product
from shop.observability import metrics
from shop.repositories.coupons import CouponRepository
from shop.repositories.orders import OrderRepository
from shop.repositories.products import ProductRepository
from shop.retry import Sleep

MAX_PRICING_ATTEMPTS = 3


class OrderService:
    """`now` tells the time (an order's, and whether its coupon is still valid), `sleep` makes the
    pauses between attempts (both given to the default repositories)."""

    def __init__(
        self,
        products: ProductRepository | None = None,
        coupons: CouponRepository | None = None,
        orders: OrderRepository | None = None,
        *,
        now: clock.Clock = clock.now,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._products = products or ProductRepository(sleep=sleep)
        self._coupons = coupons or CouponRepository(sleep=sleep)
        self._orders = orders or OrderRepository(products=self._products, coupons=self._coupons, sleep=sleep)
        self._now = now

    def place(self, caller: Caller, request: PlaceOrder, request_key: str | None = None) -> Order:
        """Price the caller's order (`userId`, if given, must be the caller), then spend stock,
        coupon and balance and record it, all at once.

        The reads only price the order and answer early what is already certain to fail; the
        transaction's conditions decide. A price that changed in between prices it again.

        With a `request_key` (the caller's idempotency key) the order's id is derived from it, so
        the same request sent again finds its order placed and answers it.
        """
        user_id = caller.acts_for(request.user_id)
        order_id = derived_id("order", user_id, request_key) if request_key else new_id()
        try:
            return self._place(user_id, request, order_id)
        except OutcomeUnknown:
            raise
        except Refusal:
            placed = self._orders.get(order_id) if request_key else None
            if placed is not None and placed.user_id == user_id:
                return placed
            raise

    def order(self, caller: Caller, order_id: str) -> Order:
        """An order of the caller's (any user's for an admin); OrderNotFound also for another
        user's order, so that its existence is not told."""
        order = self._orders.get(order_id)
        if order is None or (not caller.is_admin and order.user_id != caller.user_id):
            raise OrderNotFound(order_id)
        return order

    def orders_of(self, caller: Caller, user_id: str, limit: int, cursor: str | None) -> OrderPage:
        """One page of the user's orders, newest first: the caller's own, or any user's for an admin."""
        caller.reads(user_id)
        return self._orders.page_of(user_id, limit, cursor)

    def _place(self, user_id: str, request: PlaceOrder, order_id: str) -> Order:
        for _ in range(MAX_PRICING_ATTEMPTS):
            products = self._products.get_many([line.product_id for line in request.items])
            order, coupon = self._price(user_id, request, products, order_id)
            try:
                self._orders.place(order, products, coupon)
            except PriceChanged:
                continue
            except AlreadyApplied as applied:
                placed = Order.model_validate(applied.item) if applied.item else self._orders.get(order_id)
                if placed is None:
                    raise OrderNotFound(order_id) from applied
                return placed
            metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="PaidAmount", unit=MetricUnit.Count, value=order.paid_amount)
            return order
        raise ConcurrentUpdate()

    def _price(
        self, user_id: str, request: PlaceOrder, products: dict[str, Product], order_id: str
    ) -> tuple[Order, IssuedCoupon | None]:
        items: list[OrderItem] = []
        for line in request.items:
            product = products.get(line.product_id)
            if product is None:
                raise ProductNotFound(line.product_id)
            if product.stock < line.quantity:
                raise OutOfStock(line.product_id)
            items.append(
                OrderItem(
                    product_id=product.product_id,
                    name=product.name,
                    unit_price=product.price,
                    quantity=line.quantity,
                )
            )
        created_at = self._now()
        coupon = self._usable_coupon(user_id, request, created_at) if request.issued_coupon_id else None
        total = sum(item.amount for item in items)
        discount = coupon.discount.of(total) if coupon else 0
        order = Order(
            order_id=order_id,
            user_id=user_id,
            items=items,
            total_amount=total,
            discount_amount=discount,
            paid_amount=total - discount,
            issued_coupon_id=request.issued_coupon_id,
            status="PAID",
            created_at=created_at,
        )
        return order, coupon

    def _usable_coupon(self, user_id: str, request: PlaceOrder, at: datetime) -> IssuedCoupon:
        issued_coupon_id = str(request.issued_coupon_id)
        coupon = self._coupons.get_issued(user_id, issued_coupon_id)
        if coupon is None or coupon.seen_at(at).status != "AVAILABLE":
            raise InvalidCoupon(issued_coupon_id)
        return coupon
