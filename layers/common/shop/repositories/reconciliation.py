"""The money's tables read whole, for the reconciliation: every balance, every ledger entry and
every order, scanned page by page (in parallel segments when asked), and the consistent reads
that confirm what a scan suggests.

Read only: nothing here writes. The scans are eventually consistent (half the capacity of a
consistent scan): what they suggest is confirmed by consistent reads of the one user or order
(`entries_of`, `balance`, `has_payment`) before it is reported.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from shop.repositories import dynamodb
from shop.settings import settings


class LedgerLine(NamedTuple):
    """One ledger entry, as much of it as the reconciliation reads."""

    user_id: str
    entry_id: str
    type: str
    amount: int
    order_id: str | None


class OrderOwner(NamedTuple):
    order_id: str
    user_id: str


_BALANCE = ("#u, #b", {"#u": "userId", "#b": "balance"})
_ENTRY = (
    "#u, #e, #t, #a, #o",
    {"#u": "userId", "#e": "entryId", "#t": "type", "#a": "amount", "#o": "orderId"},
)
_ORDER = ("#o, #u", {"#o": "orderId", "#u": "userId"})

_DONE = object()


class MoneyRecords:
    """Reads of BalancesTable, LedgerTable and OrdersTable.

    `client` is a low-level DynamoDB client (default: the layer's `reading_client`, with
    botocore's standard retries); `segments` splits each scan into that many parallel segments, each read by a
    thread of its own; `page_size` caps the items of a scan's page (DynamoDB's own cap is 1 MB)."""

    def __init__(
        self,
        client: Any | None = None,
        *,
        balances_table: str | None = None,
        ledger_table: str | None = None,
        orders_table: str | None = None,
        segments: int = 1,
        page_size: int | None = None,
    ) -> None:
        if segments < 1:
            raise ValueError(f"segments: {segments}, at least 1")
        self._page_size = page_size
        self._given_client = client
        self._balances = balances_table or settings().balances_table
        self._ledger = ledger_table or settings().ledger_table
        self._orders = orders_table or settings().orders_table
        self._segments = segments

    @property
    def _client(self) -> Any:
        return self._given_client if self._given_client is not None else dynamodb.reading_client()

    # ---------------------------------------------------------------- whole tables

    def balances(self) -> Iterator[tuple[str, int]]:
        """(user id, balance) of every balance item."""
        for item in self._scan(self._balances, *_BALANCE):
            yield item["userId"]["S"], int(item.get("balance", {"N": "0"})["N"])

    def entries(self) -> Iterator[LedgerLine]:
        """Every ledger entry."""
        for item in self._scan(self._ledger, *_ENTRY):
            yield _line(item)

    def orders(self) -> Iterator[OrderOwner]:
        """(order id, user id) of every order."""
        for item in self._scan(self._orders, *_ORDER):
            yield OrderOwner(item["orderId"]["S"], item["userId"]["S"])

    # ---------------------------------------------------------------- one user, consistently

    def balance(self, user_id: str) -> int:
        """The user's balance, read consistently; 0 when the user has no balance item."""
        item = self._client.get_item(
            TableName=self._balances,
            Key={"userId": {"S": user_id}},
            ProjectionExpression="#b",
            ExpressionAttributeNames={"#b": "balance"},
            ConsistentRead=True,
        ).get("Item")
        return int(item["balance"]["N"]) if item and "balance" in item else 0

    def entries_of(self, user_id: str) -> list[LedgerLine]:
        """Every entry of the user's ledger, read consistently (every page of the partition)."""
        projection, names = _ENTRY
        query: dict[str, Any] = {
            "TableName": self._ledger,
            "KeyConditionExpression": "#u = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
            "ProjectionExpression": projection,
            "ExpressionAttributeNames": names,
            "ConsistentRead": True,
        }
        lines: list[LedgerLine] = []
        for page in self._client.get_paginator("query").paginate(**query):
            lines += [_line(item) for item in page.get("Items", [])]
        return lines

    def has_payment(self, user_id: str, order_id: str) -> bool:
        """Whether the order's PAYMENT entry (entry id: the order id) is in the user's ledger,
        read consistently."""
        answer = self._client.get_item(
            TableName=self._ledger,
            Key={"userId": {"S": user_id}, "entryId": {"S": order_id}},
            ProjectionExpression="#e",
            ExpressionAttributeNames={"#e": "entryId"},
            ConsistentRead=True,
        )
        return "Item" in answer

    # ---------------------------------------------------------------- scans

    def _scan(self, table: str, projection: str, names: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every item of `table` (the projection only), page after page; with several segments,
        in the order their pages arrive."""
        if self._segments == 1:
            for page in self._pages(table, projection, names, None):
                yield from page
            return
        pages: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def read(segment: int) -> None:
            try:
                for page in self._pages(table, projection, names, segment):
                    if stop.is_set():
                        break
                    pages.put(page)
            except Exception as error:  # handed to the reader, who raises it
                pages.put(error)
            finally:
                pages.put(_DONE)

        with ThreadPoolExecutor(max_workers=self._segments, thread_name_prefix=f"scan-{table}") as pool:
            try:
                for segment in range(self._segments):
                    pool.submit(read, segment)
                running = self._segments
                while running:
                    page = pages.get()
                    if page is _DONE:
                        running -= 1
                    elif isinstance(page, Exception):
                        raise page
                    else:
                        yield from page
            finally:
                stop.set()

    def _pages(
        self, table: str, projection: str, names: dict[str, str], segment: int | None
    ) -> Iterator[list[dict[str, Any]]]:
        scan: dict[str, Any] = {
            "TableName": table,
            "ProjectionExpression": projection,
            "ExpressionAttributeNames": names,
        }
        if segment is not None:
            scan |= {"Segment": segment, "TotalSegments": self._segments}
        if self._page_size is not None:
            scan["Limit"] = self._page_size
        for page in self._client.get_paginator("scan").paginate(**scan):
            yield list(page.get("Items", []))


def _line(item: dict[str, Any]) -> LedgerLine:
    return LedgerLine(
        user_id=item["userId"]["S"],
        entry_id=item["entryId"]["S"],
        type=item["type"]["S"],
        amount=int(item["amount"]["N"]),
        order_id=item["orderId"]["S"] if "orderId" in item else None,
    )
