"""Balances table: one item per user, `{userId, balance}`."""

from __future__ import annotations

from typing import Any

from shop import clock
from shop.errors import AlreadyApplied, BalanceLimitExceeded
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

    def charge(self, user_id: str, amount: int, limit: int, entry: dict[str, Any]) -> int:
        """Add `amount` and put its ledger `entry` (a transaction item) in one transaction whose
        balance condition refuses a balance above `limit`; answer the balance read right after.

        Raises BalanceLimitExceeded, or AlreadyApplied when the entry exists already (an earlier
        attempt of the same charge was applied)."""
        now = clock.isoformat(clock.now())
        items = [
            {
                "Update": {
                    "TableName": self._table_name,
                    "Key": dynamodb.to_attribute_values({"userId": user_id}),
                    "UpdateExpression": "ADD balance :amount SET updatedAt = :now",
                    "ConditionExpression": "attribute_not_exists(balance) OR balance <= :highest_before",
                    "ExpressionAttributeValues": dynamodb.to_attribute_values(
                        {":amount": amount, ":highest_before": limit - amount, ":now": now}
                    ),
                }
            },
            entry,
        ]

        def refusal(reasons: list[dict[str, Any]]) -> Exception:
            if dynamodb.failed_condition(reasons[1]):
                return AlreadyApplied()
            return BalanceLimitExceeded(limit)

        dynamodb.transact_write(items, refusal)
        return self.get(user_id)

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
