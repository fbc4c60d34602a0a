"""Orders table: one item per paid order, key `orderId`; its stream feeds the event bus. The
global index `byUser` (sort key `seq`: the time in milliseconds, then the id) lists a user's
orders newest first.

Placing an order is one TransactWriteItems over five tables: every product's stock, the
balance, the coupon, the order record and its PAYMENT ledger entry move together or not at all.
"""

from __future__ import annotations

import time
from typing import Any

from shop.errors import (
    AlreadyApplied,
    ConcurrentUpdate,
    InsufficientBalance,
    InvalidCoupon,
    OutOfStock,
    PriceChanged,
    ProductNotFound,
)
from shop.ids import sequence
from shop.models.coupon import IssuedCoupon
from shop.models.ledger import Entry
from shop.models.order import Order, OrderPage
from shop.models.product import Product
from shop.repositories import dynamodb
from shop.repositories.balances import BalanceRepository
from shop.repositories.coupons import CouponRepository
from shop.repositories.ledger import LedgerRepository
from shop.repositories.products import ProductRepository
from shop.retry import Sleep
from shop.settings import settings


class OrderRepository:
    """`client` is a low-level DynamoDB client for the order's transaction (default:
    `dynamodb.client()`), `sleep` makes the pauses between its attempts."""

    def __init__(
        self,
        products: ProductRepository | None = None,
        balances: BalanceRepository | None = None,
        coupons: CouponRepository | None = None,
        ledger: LedgerRepository | None = None,
        table_name: str | None = None,
        *,
        client: Any | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._products = products or ProductRepository()
        self._balances = balances or BalanceRepository()
        self._coupons = coupons or CouponRepository()
        self._ledger = ledger or LedgerRepository()
        self._table_name = table_name or settings().orders_table
        self._client = client
        self._sleep = sleep

    @property
    def _table(self) -> Any:
        return dynamodb.table(self._table_name)

    def get(self, order_id: str) -> Order | None:
        item = self._table.get_item(Key={"orderId": order_id}, ConsistentRead=True).get("Item")
        return Order.model_validate(dynamodb.plain(item)) if item else None

    def page_of(self, user_id: str, limit: int, cursor: str | None) -> OrderPage:
        """One page of the user's orders, newest first, and the cursor of the next page."""
        items, next_cursor = dynamodb.newest_first(
            self._table, BY_USER, user_id, "orderId", limit, cursor, consistent=False
        )
        return OrderPage(items=[Order.model_validate(dynamodb.plain(item)) for item in items], next_cursor=next_cursor)

    def place(self, order: Order, products: dict[str, Product], coupon: IssuedCoupon | None) -> None:
        """Commit the order: stock, balance, coupon, the order record and its PAYMENT entry, in
        one transaction.

        Raises AlreadyApplied (with the stored order) when an order of its id exists: an earlier
        attempt of the same order was applied. Otherwise the refusal whose condition really
        failed: ProductNotFound or OutOfStock naming the product, InvalidCoupon,
        InsufficientBalance; PriceChanged when a product was priced at a price it no longer has.
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
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        )
        checks.append(("order", order.order_id))
        payment = Entry(
            entry_id=order.order_id,
            type="PAYMENT",
            amount=order.paid_amount,
            order_id=order.order_id,
            at=order.created_at,
        )
        items.append(self._ledger.record(order.user_id, payment))
        checks.append(("entry", order.order_id))

        def refusal(reasons: list[dict[str, Any]]) -> Exception:
            failed = [
                (check, reason)
                for check, reason in zip(checks, reasons, strict=True)
                if dynamodb.failed_condition(reason)
            ]
            for (kind, _), reason in failed:
                if kind in ("order", "entry"):
                    return AlreadyApplied(dynamodb.old_item(reason))
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

        dynamodb.transact_write(items, refusal, client=self._client, sleep=self._sleep)


BY_USER = "byUser"


def _quantity(order: Order, product_id: str) -> int:
    return next(line.quantity for line in order.items if line.product_id == product_id)


def order_item(order: Order) -> dict[str, Any]:
    """The order as stored: the contract's fields, times as ISO 8601 strings."""
    item = order.model_dump(by_alias=True, mode="json", exclude_none=True)
    item["seq"] = sequence(order.order_id)
    return item


def order_from_stream_image(image: dict[str, Any]) -> Order:
    """The order in a stream record's NewImage, deserialized (numbers as Decimals)."""
    return Order.model_validate(dynamodb.plain(image))
