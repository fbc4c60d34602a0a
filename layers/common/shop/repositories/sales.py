"""Sales table: units sold per product per business day, and the popular ranking.

Items (key `pk`, `sk`):
- `DAY#<yyyy-mm-dd>` / `PRODUCT#<productId>`: `{units, name, price}` for that day;
- `ORDER#<orderId>` / `COUNTED`: the order was counted (an event delivered twice counts once);
- `RANKING` / `<yyyy-mm-dd>`: the ranking of the window ending that day, `{items, version}`.
Day and order items expire (`expiresAt`) once no window can need them.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from shop.errors import AlreadyCounted
from shop.models.order import Order
from shop.models.popular import ProductSales
from shop.repositories import dynamodb
from shop.retry import Sleep
from shop.settings import settings

RETENTION = timedelta(days=35)


class SalesRepository:
    """`client` is a low-level DynamoDB client for the counts' transactions (default:
    `dynamodb.client()`), `sleep` makes the pauses between their attempts."""

    def __init__(self, table_name: str | None = None, *, client: Any | None = None, sleep: Sleep = time.sleep) -> None:
        self._table_name = table_name or settings().sales_table
        self._client = client
        self._sleep = sleep

    @property
    def _table(self) -> Any:
        return dynamodb.table(self._table_name)

    def count(self, order: Order, day: date) -> None:
        """Add the order's units to the day's counts, once per order (AlreadyCounted after)."""
        expires_at = int((order.created_at + RETENTION).timestamp())
        day_key = f"DAY#{day.isoformat()}"
        marker = {
            "Put": {
                "TableName": self._table_name,
                "Item": dynamodb.to_attribute_values(
                    {"pk": f"ORDER#{order.order_id}", "sk": "COUNTED", "expiresAt": expires_at}
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        products = [
            {
                "Update": {
                    "TableName": self._table_name,
                    "Key": dynamodb.to_attribute_values({"pk": day_key, "sk": f"PRODUCT#{line.product_id}"}),
                    "UpdateExpression": (
                        "ADD units :units SET productId = :pid, #name = :name, price = :price, expiresAt = :expires"
                    ),
                    "ExpressionAttributeNames": {"#name": "name"},
                    "ExpressionAttributeValues": dynamodb.to_attribute_values(
                        {
                            ":units": line.quantity,
                            ":pid": line.product_id,
                            ":name": line.name,
                            ":price": line.unit_price,
                            ":expires": expires_at,
                        }
                    ),
                }
            }
            for line in order.items
        ]
        dynamodb.transact_write(
            [marker, *products],
            lambda reasons: AlreadyCounted(order.order_id),
            client=self._client,
            sleep=self._sleep,
        )

    def day(self, day: date) -> tuple[list[ProductSales], int]:
        """The day's sales per product and the day's total units (cost grows with the number of
        products sold that day, not with the number of orders). No item holds the total: every
        count would update it, and concurrent counts would conflict on it."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"DAY#{day.isoformat()}"),
            "ConsistentRead": True,
        }
        sales: list[ProductSales] = []
        total = 0
        while True:
            answer = self._table.query(**query)
            for item in map(dynamodb.plain, answer.get("Items", [])):
                sales.append(
                    ProductSales(
                        product_id=item["productId"],
                        name=item["name"],
                        price=item["price"],
                        sold_quantity=item["units"],
                    )
                )
                total += item["units"]
            if "LastEvaluatedKey" not in answer:
                return sales, total
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def ranking(self, last_day: date) -> list[ProductSales] | None:
        """The ranking kept for the window ending `last_day`, if one was kept: one item read."""
        item = self._table.get_item(Key={"pk": "RANKING", "sk": last_day.isoformat()}).get("Item")
        if item is None:
            return None
        return [ProductSales.model_validate(entry) for entry in dynamodb.plain(item["items"])]

    def keep_ranking(self, last_day: date, ranking: list[ProductSales], version: int, at: datetime) -> bool:
        """Keep the ranking of the window ending `last_day`, computed from `version` units sold in
        it, unless one computed from more units is already kept. True if it was written."""
        try:
            self._table.put_item(
                Item={
                    "pk": "RANKING",
                    "sk": last_day.isoformat(),
                    "items": [entry.model_dump(by_alias=True) for entry in ranking],
                    "version": version,
                    "expiresAt": int((at + RETENTION).timestamp()),
                },
                ConditionExpression="attribute_not_exists(pk) OR version < :version",
                ExpressionAttributeValues={":version": version},
            )
        except ClientError as error:
            if dynamodb.is_condition_failure(error):
                return False
            raise
        return True
