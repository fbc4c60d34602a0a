"""Balances table: one item per user, `{userId, balance}`."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from typing import Any

from shop import budget, clock
from shop.errors import AlreadyApplied, BalanceChanged, BalanceLimitExceeded, ConcurrentUpdate
from shop.repositories import dynamodb
from shop.settings import settings

_PAUSE_BASE_SECONDS = 0.005
_PAUSE_CAP_SECONDS = 0.1


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

    def charge(
        self,
        user_id: str,
        amount: int,
        limit: int,
        entry: Callable[[int], dict[str, Any]],
        *,
        sleep: Callable[[float], None] | None = None,
    ) -> int:
        """Add `amount` and put its ledger entry in one transaction; answer the new balance.

        Optimistic: the balance is read (consistently), and the transaction sets it to the read
        value plus `amount` on condition it still holds the read value, so the cap is enforced by
        that conditional write and the answer is exactly the balance this charge made. `entry`
        builds the entry's transaction item from that new balance. A balance changed in between
        is read again (with a short jittered pause) while the time budget lasts, then
        ConcurrentUpdate.

        Raises BalanceLimitExceeded, or AlreadyApplied (with the stored entry) when the entry
        exists already: an earlier attempt of the same charge was applied."""
        pause = sleep or time.sleep
        for attempt in itertools.count():
            before = self.get(user_id)
            after = before + amount
            if after > limit:
                raise BalanceLimitExceeded(limit)
            condition = "balance = :before" + (" OR attribute_not_exists(balance)" if before == 0 else "")
            items = [
                {
                    "Update": {
                        "TableName": self._table_name,
                        "Key": dynamodb.to_attribute_values({"userId": user_id}),
                        "UpdateExpression": "SET balance = :after, updatedAt = :now",
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": dynamodb.to_attribute_values(
                            {":before": before, ":after": after, ":now": clock.isoformat(clock.now())}
                        ),
                    }
                },
                entry(after),
            ]

            def refusal(reasons: list[dict[str, Any]]) -> Exception:
                if dynamodb.failed_condition(reasons[1]):
                    return AlreadyApplied(dynamodb.old_item(reasons[1]))
                return BalanceChanged()

            try:
                dynamodb.transact_write(items, refusal, sleep=sleep)
            except BalanceChanged:
                if budget.remaining() < dynamodb.ATTEMPT_SECONDS:
                    raise ConcurrentUpdate() from None
                pause(random.uniform(0, min(_PAUSE_CAP_SECONDS, _PAUSE_BASE_SECONDS * 2 ** min(attempt, 8))))
                continue
            return after
        raise AssertionError("unreachable")

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
