"""Orders table: one item per paid order, key `orderId`; its stream feeds the event bus.

Placing an order is one TransactWriteItems over four tables: every product's stock, the
balance, the coupon and the order record move together or not at all.
"""

from __future__ import annotations

from typing import Any

from shop.errors import (
    ConcurrentUpdate,
    InsufficientBalance,
    InvalidCoupon,
    OutOfStock,
    ProductNotFound,
    ShopError,
)
from shop.models.coupon import IssuedCoupon
from shop.models.order import Order
from shop.models.product import Product
from shop.repositories import dynamodb
from shop.repositories.balances import BalanceRepository
from shop.repositories.coupons import CouponRepository
from shop.repositories.products import ProductRepository
from shop.settings import settings


class PriceChanged(ShopError):
    """A product's price changed after the order was priced: price it again."""

    def __init__(self, product_id: str) -> None:
        super().__init__(f"the price of product {product_id} changed")
        self.product_id = product_id


class OrderRepository:
    def __init__(
        self,
        products: ProductRepository | None = None,
        balances: BalanceRepository | None = None,
        coupons: CouponRepository | None = None,
        table_name: str | None = None,
    ) -> None:
        self._products = products or ProductRepository()
        self._balances = balances or BalanceRepository()
        self._coupons = coupons or CouponRepository()
        self._table_name = table_name or settings().orders_table

    def place(self, order: Order, products: dict[str, Product], coupon: IssuedCoupon | None) -> None:
        """Commit the order: stock, balance, coupon and the order record, in one transaction.

        Raises the refusal whose condition really failed: ProductNotFound or OutOfStock naming
        the product, InvalidCoupon, InsufficientBalance; PriceChanged when a product was priced
        at a price it no longer has.
        """
        items: list[dict[str, Any]] = [
            self._products.take_stock(products[line.product_id], line.quantity) for line in order.items
        ]
        checks: list[tuple[str, str]] = [("product", line.product_id) for line in order.items]
        if coupon is not None:
            items.append(self._coupons.use(coupon, order.created_at))
            checks.append(("coupon", coupon.issued_coupon_id))
        if order.paid_amount > 0:
            items.append(self._balances.debit(order.user_id, order.paid_amount))
            checks.append(("balance", order.user_id))
        items.append(
            {
                "Put": {
                    "TableName": self._table_name,
                    "Item": dynamodb.to_attribute_values(order_item(order)),
                    "ConditionExpression": "attribute_not_exists(orderId)",
                }
            }
        )
        checks.append(("order", order.order_id))

        def refusal(reasons: list[dict[str, Any]]) -> ShopError:
            failed = [
                (check, reason)
                for check, reason in zip(checks, reasons, strict=True)
                if dynamodb.failed_condition(reason)
            ]
            for (kind, key), reason in failed:
                if kind == "product":
                    old = dynamodb.old_item(reason)
                    if old is None:
                        return ProductNotFound(key)
                    if int(old["stock"]) < _quantity(order, key):
                        return OutOfStock(key)
                    return PriceChanged(key)
            for (kind, key), _ in failed:
                if kind == "coupon":
                    return InvalidCoupon(key)
                if kind == "balance":
                    return InsufficientBalance()
            return ConcurrentUpdate()

        dynamodb.transact_write(items, refusal)


def _quantity(order: Order, product_id: str) -> int:
    return next(line.quantity for line in order.items if line.product_id == product_id)


def order_item(order: Order) -> dict[str, Any]:
    """The order as stored: the contract's fields, times as ISO 8601 strings."""
    item = order.model_dump(by_alias=True, mode="json", exclude_none=True)
    return item


def order_from_stream_image(image: dict[str, Any]) -> Order:
    """The order in a stream record's NewImage (DynamoDB JSON)."""
    return Order.model_validate(dynamodb.from_attribute_values(image))
