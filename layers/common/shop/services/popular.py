"""Popular products: the top sellers of the last days, counted from completed orders."""

from __future__ import annotations

import time
from datetime import date, timedelta

from shop import clock
from shop.errors import AlreadyCounted
from shop.models.order import Order
from shop.models.popular import RANKING_SIZE, WINDOW_DAYS, PopularProduct, PopularProducts, ProductSales
from shop.observability import logger
from shop.repositories.sales import SalesRepository
from shop.retry import Sleep


def window(last_day: date) -> list[date]:
    """The business days of the window ending `last_day`, oldest first."""
    return [last_day - timedelta(days=back) for back in range(WINDOW_DAYS - 1, -1, -1)]


def rank(days: list[list[ProductSales]]) -> list[ProductSales]:
    """The top sellers over `days` (oldest first): most units first, ties by product id.

    Name and price are the latest seen."""
    merged: dict[str, ProductSales] = {}
    for day in days:
        for sales in day:
            before = merged.get(sales.product_id)
            units = sales.sold_quantity + (before.sold_quantity if before else 0)
            merged[sales.product_id] = sales.model_copy(update={"sold_quantity": units})
    ordered = sorted(merged.values(), key=lambda s: (-s.sold_quantity, s.product_id))
    return ordered[:RANKING_SIZE]


class PopularProductsService:
    """`now` tells the time: the window ends on its business day."""

    def __init__(self, sales: SalesRepository | None = None, *, now: clock.Clock = clock.now) -> None:
        self._sales = sales or SalesRepository()
        self._now = now

    def popular(self) -> PopularProducts:
        """The ranking of the window ending today: one item read when a sale was counted today;
        otherwise computed from the days' counts (cost bounded by the products sold, not the
        orders)."""
        days = window(clock.business_day(self._now()))
        ranking = self._sales.ranking(days[-1])
        if ranking is None:
            ranking = rank([self._sales.day(day)[0] for day in days])
        items = [
            PopularProduct(
                rank=position,
                product_id=entry.product_id,
                name=entry.name,
                price=entry.price,
                sold_quantity=entry.sold_quantity,
            )
            for position, entry in enumerate(ranking, start=1)
        ]
        return PopularProducts.model_validate({"items": items, "from": days[0], "to": days[-1]})


class SalesCountingService:
    """`now` tells the time (today's ranking is kept), `sleep` makes the pauses between attempts
    (given to the default repository)."""

    def __init__(
        self, sales: SalesRepository | None = None, *, now: clock.Clock = clock.now, sleep: Sleep = time.sleep
    ) -> None:
        self._sales = sales or SalesRepository(sleep=sleep)
        self._now = now

    def count(self, order: Order) -> None:
        """Count the order's units on its business day, once, then keep today's ranking."""
        try:
            self._sales.count(order, clock.business_day(order.created_at))
        except AlreadyCounted:
            logger.info("order already counted", extra={"order_id": order.order_id})
        now = self._now()
        days = window(clock.business_day(now))
        counted = [self._sales.day(day) for day in days]
        version = sum(total for _, total in counted)
        self._sales.keep_ranking(days[-1], rank([sales for sales, _ in counted]), version, now)
