"""Counting what the layer asks of DynamoDB, with botocore event hooks on its clients.

Nothing in the layer changes: the hooks are registered on the clients `shop.repositories.dynamodb`
caches (the low-level client and the resource's client).

- `before-parameter-build`: adds `ReturnConsumedCapacity="TOTAL"` to every call that takes it, and
  captures the items of a `TransactWriteItems` (and, when sizing, reads them before the call);
- `before-send`: counts HTTP requests (botocore's own retries included);
- `after-call`: records the call: the consumed capacity the emulator reports (used for single-item
  and read calls only), the error code and the transaction's cancellation reasons; for a committed
  transaction, reads its items back and computes its WCU by the documented rule (`itemsize`),
  because DynamoDB Local reports 2.0 per table whatever the number of items.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench import itemsize

READ_OPERATIONS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
TRANSACTION_ACTIONS = ("Put", "Update", "Delete", "ConditionCheck")


@dataclass
class Transaction:
    """One committed TransactWriteItems: its actions and their computed WCU."""

    actions: list[str]
    wcu: int
    sizes: list[tuple[int, int]]  # (before, after) bytes per item
    emulator_reported: float  # what DynamoDB Local said: kept for comparison, never used


@dataclass
class Tally:
    """Everything sent while one measurement was open."""

    size_transactions: bool = True
    rcu: float = 0.0
    wcu: float = 0.0  # single-item and batch writes, as the emulator reports them
    calls: Counter[str] = field(default_factory=Counter)  # API calls by operation
    http_requests: Counter[str] = field(default_factory=Counter)  # HTTP requests by operation
    errors: Counter[str] = field(default_factory=Counter)  # "<operation>:<code>"
    cancellation_reasons: Counter[str] = field(default_factory=Counter)  # codes other than None
    transactions: list[Transaction] = field(default_factory=list)
    unsized_transactions: int = 0  # committed while sizing was off

    @property
    def transaction_wcu(self) -> int:
        return sum(t.wcu for t in self.transactions)

    @property
    def total_wcu(self) -> float:
        return self.wcu + self.transaction_wcu

    def summary(self) -> str:
        """The calls, e.g. `GetItem, BatchGetItem, TransactWriteItems[Update x5, Put]`."""
        parts = []
        for operation, count in self.calls.items():
            if operation == "TransactWriteItems" and self.transactions:
                for transaction in self.transactions:
                    actions = Counter(transaction.actions)
                    inside = ", ".join(f"{a} x{n}" if n > 1 else a for a, n in actions.items())
                    parts.append(f"TransactWriteItems[{inside}]")
                continue
            parts.append(f"{operation} x{count}" if count > 1 else operation)
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rcu": self.rcu,
            "wcu_single_item": self.wcu,
            "wcu_transactions_computed": self.transaction_wcu,
            "wcu_total": self.total_wcu,
            "calls": dict(self.calls),
            "http_requests": dict(self.http_requests),
            "errors": dict(self.errors),
            "cancellation_reasons": dict(self.cancellation_reasons),
            "transactions": [
                {
                    "actions": t.actions,
                    "wcu": t.wcu,
                    "item_bytes_before_after": t.sizes,
                    "emulator_reported_wcu_ignored": t.emulator_reported,
                }
                for t in self.transactions
            ],
        }


def _units(consumed: Any) -> float:
    if consumed is None:
        return 0.0
    if isinstance(consumed, list):
        return sum(_units(entry) for entry in consumed)
    return float(consumed.get("CapacityUnits", 0.0))


class Meter:
    """Hooks on DynamoDB clients, and the measurement they count into."""

    def __init__(self, probe: Any, key_names: dict[str, list[str]]) -> None:
        self._probe = probe  # an un-instrumented client, to size transaction items
        self._key_names = key_names  # table -> key attribute names
        self._lock = threading.Lock()
        self._tally: Tally | None = None
        self._local = threading.local()
        self._instrumented: list[int] = []

    # ---------------------------------------------------------------- wiring

    def instrument(self, client: Any) -> None:
        if id(client) in self._instrumented:
            return
        events = client.meta.events
        events.register("before-parameter-build.dynamodb", self._before_call, unique_id="bench-params")
        events.register("before-send.dynamodb", self._on_send, unique_id="bench-send")
        events.register("after-call.dynamodb", self._after_call, unique_id="bench-after")
        self._instrumented.append(id(client))

    @contextmanager
    def measure(self, *, size_transactions: bool = True) -> Iterator[Tally]:
        """Count every call made (from any thread) until the block ends."""
        tally = Tally(size_transactions=size_transactions)
        with self._lock:
            self._tally = tally
        try:
            yield tally
        finally:
            with self._lock:
                self._tally = None

    def thread_transactions(self) -> int:
        """TransactWriteItems calls this thread has sent so far (to tell what a call did)."""
        return int(getattr(self._local, "transactions", 0))

    # ---------------------------------------------------------------- hooks

    def _before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        if model.name == "TransactWriteItems":
            self._local.transactions = self.thread_transactions() + 1
            tally = self._tally
            items = list(params.get("TransactItems", []))
            sizing = tally is not None and tally.size_transactions
            self._local.pending = (items, [self._read(item) for item in items] if sizing else None)

    def _on_send(self, request: Any, **kwargs: Any) -> None:
        tally = self._tally
        if tally is not None:
            operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
            with self._lock:
                tally.http_requests[operation] += 1

    def _after_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        tally = self._tally
        pending = None
        if model.name == "TransactWriteItems":
            pending, self._local.pending = getattr(self._local, "pending", None), None
        if tally is None:
            return
        operation = model.name
        error = parsed.get("Error", {}).get("Code")
        reasons = [r.get("Code") for r in parsed.get("CancellationReasons", []) if r.get("Code") not in (None, "None")]
        transaction = None
        if operation == "TransactWriteItems" and error is None and pending is not None and pending[1] is not None:
            items, before = pending
            after = [self._read(item) for item in items]
            transaction = self._transaction(items, before, after, _units(parsed.get("ConsumedCapacity")))
        with self._lock:
            tally.calls[operation] += 1
            if error:
                tally.errors[f"{operation}:{error}"] += 1
            tally.cancellation_reasons.update(reasons)
            if operation in READ_OPERATIONS:
                tally.rcu += _units(parsed.get("ConsumedCapacity"))
            elif operation in WRITE_OPERATIONS:
                tally.wcu += _units(parsed.get("ConsumedCapacity"))
            elif operation == "TransactWriteItems" and error is None:
                if transaction is not None:
                    tally.transactions.append(transaction)
                else:
                    tally.unsized_transactions += 1

    # ---------------------------------------------------------------- sizing

    def _key(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        if action == "Put":
            return {name: body["Item"][name] for name in self._key_names[body["TableName"]]}
        return dict(body["Key"])

    def _read(self, item: dict[str, Any]) -> dict[str, Any] | None:
        ((action, body),) = item.items()
        answer = self._probe.get_item(TableName=body["TableName"], Key=self._key(action, body), ConsistentRead=True)
        found: dict[str, Any] | None = answer.get("Item")
        return found

    @staticmethod
    def _transaction(
        items: list[dict[str, Any]],
        before: list[dict[str, Any] | None],
        after: list[dict[str, Any] | None],
        reported: float,
    ) -> Transaction:
        actions, sizes, wcu = [], [], 0
        for item, old, new in zip(items, before, after, strict=True):
            ((action, _),) = item.items()
            old_size, new_size = itemsize.item_size(old), itemsize.item_size(new)
            # Delete and ConditionCheck: the item as it is; Put and Update: the larger of before and after
            counted = old_size if action in ("Delete", "ConditionCheck") else max(old_size, new_size)
            actions.append(action)
            sizes.append((old_size, new_size))
            wcu += itemsize.transactional_write_units(counted)
        return Transaction(actions=actions, wcu=wcu, sizes=sizes, emulator_reported=reported)
