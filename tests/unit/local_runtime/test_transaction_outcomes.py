"""The e2e tests' transaction counts: since `clear()`, of all functions or of one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local_runtime.functions import LocalFunction, LocalLambda
from tests.support.runtime import TransactionOutcomes

COMMIT = "dynamodb.TransactWriteItems OK"
CANCEL = "dynamodb.TransactWriteItems TransactionCanceledException"
STOCK_GONE = "dynamodb.TransactWriteItems TransactionCanceledException:ConditionalCheckFailed"


class _Functions:
    """The part of LocalLambda the counts read: its functions, and their calls."""

    calls = LocalLambda.calls

    def __init__(self, *logical_ids: str) -> None:
        self.functions: dict[str, Any] = {
            name: LocalFunction(name, Path("."), "app.handler", 3, 128, {}, "us-east-1") for name in logical_ids
        }

    def report(self, logical_id: str, call: str, count: int = 1) -> None:
        self.functions[logical_id].calls[call] += count


def test_a_sales_count_that_an_order_started_is_not_the_orders_commit() -> None:
    functions = _Functions("OrderPlacementFunction", "SalesCounterFunction", "BalanceChargeFunction")
    functions.report("BalanceChargeFunction", COMMIT, 120)  # before the race: not counted
    outcomes = TransactionOutcomes(functions)
    placements = outcomes.of("OrderPlacementFunction")

    functions.report("OrderPlacementFunction", COMMIT, 20)
    functions.report("OrderPlacementFunction", CANCEL, 3)
    functions.report("OrderPlacementFunction", STOCK_GONE, 3)
    functions.report("SalesCounterFunction", COMMIT, 8)  # the paid orders' events, counted as they come

    assert dict(outcomes) == {"Committed": 28, "Cancelled:ConditionalCheckFailed": 3}
    assert dict(placements) == {"Committed": 20, "Cancelled:ConditionalCheckFailed": 3}
    assert dict(outcomes.of("SalesCounterFunction")) == {"Committed": 8}


def test_clear_starts_every_view_again() -> None:
    functions = _Functions("OrderPlacementFunction", "SalesCounterFunction")
    outcomes = TransactionOutcomes(functions)
    placements = outcomes.of("OrderPlacementFunction")
    functions.report("OrderPlacementFunction", COMMIT, 5)

    outcomes.clear()
    functions.report("OrderPlacementFunction", COMMIT, 2)

    assert placements["Committed"] == 2
    assert outcomes["Committed"] == 2
