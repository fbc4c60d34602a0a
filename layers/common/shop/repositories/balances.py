"""Balances table: one item per user, `{userId, balance}`."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from shop import clock
from shop.errors import BalanceLimitExceeded
from shop.repositories import dynamodb
from shop.settings import settings


class BalanceRepository:
    def __init__(self, table_name: str | None = None) -> None:
        self._table_name = table_name or settings().balances_table

    @property
    def _table(self) -> Any:
        return dynamodb.table(self._table_name)

    def get(self, user_id: str) -> int:
        """The user's balance; 0 for a user never charged."""
        item = self._table.get_item(Key={"userId": user_id}, ConsistentRead=True).get("Item")
        return int(item["balance"]) if item else 0

    def add(self, user_id: str, amount: int, limit: int) -> int:
        """Add `amount` in one conditional write that refuses a balance above `limit`."""
        try:
            result = dynamodb.update_item_once(
                self._table_name,
                Key={"userId": user_id},
                UpdateExpression="ADD balance :amount SET updatedAt = :now",
                ConditionExpression="attribute_not_exists(balance) OR balance <= :highest_before",
                ExpressionAttributeValues={
                    ":amount": amount,
                    ":highest_before": limit - amount,
                    ":now": clock.isoformat(clock.now()),
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if dynamodb.is_condition_failure(error):
                raise BalanceLimitExceeded(limit) from error
            raise
        return int(result["Attributes"]["balance"])

    def debit(self, user_id: str, amount: int) -> dict[str, Any]:
        """The transaction item that takes `amount` from the balance if it covers it."""
        return {
            "Update": {
                "TableName": self._table_name,
                "Key": dynamodb.to_attribute_values({"userId": user_id}),
                "UpdateExpression": "SET balance = balance - :amount",
                "ConditionExpression": "balance >= :amount",
                "ExpressionAttributeValues": dynamodb.to_attribute_values({":amount": amount}),
            }
        }
