"""Products table: one item per product, `{productId, name, price, stock}`."""

from __future__ import annotations

import re
import time
from typing import Any

from botocore.exceptions import ClientError

from shop.errors import ConcurrentUpdate, InvalidCursor, ProductNotFound
from shop.ids import ID_PATTERN
from shop.models.product import Product
from shop.repositories import dynamodb
from shop.retry import Sleep
from shop.settings import settings

_BATCH_GET_LIMIT = 100


class ProductRepository:
    """`sleep` makes the pauses between attempts (`dynamodb.BACKOFF`)."""

    def __init__(self, table_name: str | None = None, *, sleep: Sleep = time.sleep) -> None:
        self._table_name = table_name or settings().products_table
        self._sleep = sleep

    @property
    def _table(self) -> Any:
        return dynamodb.table(self._table_name)

    def get(self, product_id: str) -> Product | None:
        item = self._table.get_item(Key={"productId": product_id}, ConsistentRead=True).get("Item")
        return Product.model_validate(dynamodb.plain(item)) if item else None

    def get_many(self, product_ids: list[str]) -> dict[str, Product]:
        """The products that exist among `product_ids`, read consistently, by id."""
        found: dict[str, Product] = {}
        for start in range(0, len(product_ids), _BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self._table_name: {
                    "Keys": [{"productId": pid} for pid in product_ids[start : start + _BATCH_GET_LIMIT]],
                    "ConsistentRead": True,
                }
            }
            for _ in dynamodb.BACKOFF.attempts(self._sleep):
                answer = dynamodb.resource().batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self._table_name, []):
                    product = Product.model_validate(dynamodb.plain(item))
                    found[product.product_id] = product
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise ConcurrentUpdate()
        return found

    def page(self, limit: int, cursor: str | None) -> tuple[list[Product], str | None]:
        """One page of the catalogue, and the cursor of the next page (None after the last)."""
        scan: dict[str, Any] = {"Limit": limit}
        if cursor is not None:
            scan["ExclusiveStartKey"] = {"productId": _decode_cursor(cursor)}
        answer = self._table.scan(**scan)
        items = [Product.model_validate(dynamodb.plain(item)) for item in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        return items, (_encode_cursor(str(last["productId"])) if last else None)

    def create(self, product: Product) -> None:
        self._table.put_item(
            Item=product.model_dump(by_alias=True),
            ConditionExpression="attribute_not_exists(productId)",
        )

    def restock(self, product_id: str, quantity: int) -> Product:
        try:
            answer = dynamodb.update_item_once(
                self._table_name,
                sleep=self._sleep,
                Key={"productId": product_id},
                UpdateExpression="ADD stock :quantity",
                ConditionExpression="attribute_exists(productId)",
                ExpressionAttributeValues={":quantity": quantity},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if dynamodb.is_condition_failure(error):
                raise ProductNotFound(product_id) from error
            raise
        return Product.model_validate(dynamodb.plain(answer["Attributes"]))

    def take_stock(self, product: Product, quantity: int) -> dict[str, Any]:
        """The transaction item that takes `quantity` units, if the stock covers them and the
        price is still the one the order was priced with."""
        return {
            "Update": {
                "TableName": self._table_name,
                "Key": dynamodb.to_attribute_values({"productId": product.product_id}),
                "UpdateExpression": "SET stock = stock - :quantity",
                "ConditionExpression": "attribute_exists(productId) AND stock >= :quantity AND price = :price",
                "ExpressionAttributeValues": dynamodb.to_attribute_values(
                    {":quantity": quantity, ":price": product.price}
                ),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }


def _encode_cursor(product_id: str) -> str:
    """The cursor of the page after `product_id`: the key itself, which is an id (opaque to
    clients, who only hand it back)."""
    return product_id


def _decode_cursor(cursor: str) -> str:
    """The product id a cursor points after. Any id-shaped cursor is a position in the catalogue:
    one this API did not return (a product deleted since, or made up) starts the page after the
    place that key would have, as DynamoDB's Scan does; anything else is InvalidCursor."""
    if not re.fullmatch(ID_PATTERN, cursor):
        raise InvalidCursor()
    return cursor
