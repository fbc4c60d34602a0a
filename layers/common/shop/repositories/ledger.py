"""Ledger table: one entry per committed charge and per paid order, key `userId`, `entryId`.

An entry is never written alone: it is one item of the transaction that moves the balance, put
on condition that its id is new, so the change it records cannot apply twice. The local index
`byTime` (sort key `seq`: the time in milliseconds, then the id) lists a user's entries newest first.
"""

from __future__ import annotations

from typing import Any

from shop import clock
from shop.ids import sequence
from shop.models.ledger import Entry, EntryPage
from shop.repositories import dynamodb
from shop.settings import settings

BY_TIME = "byTime"


class LedgerRepository:
    def __init__(self, table_name: str | None = None) -> None:
        self._table_name = table_name or settings().ledger_table

    @property
    def _table(self) -> Any:
        return dynamodb.table(self._table_name)

    def record(self, user_id: str, entry: Entry, balance_after: int | None = None) -> dict[str, Any]:
        """The transaction item that puts `entry`, if no entry of its id exists (with the
        balance it left, when known, so a charge sent again can answer it)."""
        item = {
            "userId": user_id,
            "entryId": entry.entry_id,
            "seq": sequence(entry.entry_id),
            "type": entry.type,
            "amount": entry.amount,
            "at": clock.isoformat(entry.at),
        }
        if entry.order_id is not None:
            item["orderId"] = entry.order_id
        if balance_after is not None:
            item["balanceAfter"] = balance_after
        return {
            "Put": {
                "TableName": self._table_name,
                "Item": dynamodb.to_attribute_values(item),
                "ConditionExpression": "attribute_not_exists(entryId)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def get(self, user_id: str, entry_id: str) -> Entry | None:
        item = self._table.get_item(Key={"userId": user_id, "entryId": entry_id}, ConsistentRead=True).get("Item")
        return _entry(item) if item else None

    def page(self, user_id: str, limit: int, cursor: str | None) -> EntryPage:
        """One page of the user's entries, newest first, and the cursor of the next page."""
        items, next_cursor = dynamodb.newest_first(
            self._table, BY_TIME, user_id, "entryId", limit, cursor, consistent=True
        )
        return EntryPage(items=[_entry(item) for item in items], next_cursor=next_cursor)


def _entry(item: dict[str, Any]) -> Entry:
    return Entry.model_validate(dynamodb.plain(item))
