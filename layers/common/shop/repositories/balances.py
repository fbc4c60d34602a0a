"""Balances table: one item per user, `{userId, balance}`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shop import budget, clock
from shop.errors import AlreadyApplied, BalanceChanged, BalanceLimitExceeded, ConcurrentUpdate
from shop.repositories import dynamodb
from shop.retry import Backoff, Sleep, retry
from shop.settings import settings

REREAD_BACKOFF = Backoff(first_seconds=0.005, cap_seconds=0.1)
"""The pauses before a charge reads a balance changed under it again (until the time budget ends)."""


class BalanceRepository:
    """`client` is a low-level DynamoDB client for the transactions (default: `dynamodb.client()`),
    `sleep` makes the pauses between attempts, `now` stamps the changes."""

    def __init__(
        self,
        table_name: str | None = None,
        *,
        client: Any | None = None,
        sleep: Sleep = time.sleep,
        now: clock.Clock = clock.now,
    ) -> None:
        self._table_name = table_name or settings().balances_table
        self._client = client
        self._sleep = sleep
        self._now = now

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
    ) -> int:
        """Add `amount` and put its ledger entry in one transaction; answer the new balance.

        Optimistic: the balance is read (consistently), and the transaction sets it to the read
        value plus `amount` on condition it still holds the read value, so the cap is enforced by
        that conditional write and the answer is exactly the balance this charge made. `entry`
        builds the entry's transaction item from that new balance. A balance changed in between
        is read again (after a short pause, `REREAD_BACKOFF`) while the time budget lasts, then
        ConcurrentUpdate.

        Raises BalanceLimitExceeded, or AlreadyApplied (with the stored entry) when the entry
        exists already: an earlier attempt of the same charge was applied."""
        try:
            return retry(
                lambda: self._charge_once(user_id, amount, limit, entry),
                retry_on=lambda error: isinstance(error, BalanceChanged),
                backoff=REREAD_BACKOFF,
                sleep=self._sleep,
                may_retry=lambda: budget.remaining() >= dynamodb.ATTEMPT_SECONDS,
            )
        except BalanceChanged:
            raise ConcurrentUpdate() from None

    def _charge_once(self, user_id: str, amount: int, limit: int, entry: Callable[[int], dict[str, Any]]) -> int:
        """One read of the balance and one transaction on condition it still holds what was read;
        BalanceChanged when it does not."""
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
                        {":before": before, ":after": after, ":now": clock.isoformat(self._now())}
                    ),
                }
            },
            entry(after),
        ]

        def refusal(reasons: list[dict[str, Any]]) -> Exception:
            if dynamodb.failed_condition(reasons[1]):
                return AlreadyApplied(dynamodb.old_item(reasons[1]))
            return BalanceChanged()

        dynamodb.transact_write(items, refusal, client=self._client, sleep=self._sleep)
        return after

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
