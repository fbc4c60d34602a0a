"""The money's reconciliation on DynamoDB Local: money moved through the services adds up; a
balance changed past the ledger and an order stored without its PAYMENT entry are each found,
with their user, and `LedgerMismatch` is their count."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from local_runtime.handler_loader import load_handler
from local_runtime.seed import PRODUCTS
from shop.identity import Caller
from shop.models.order import PlaceOrder
from shop.models.reconciliation import BalanceMismatch, UnpaidOrder
from shop.repositories import dynamodb
from shop.repositories.orders import order_item
from shop.repositories.products import ProductRepository
from shop.repositories.reconciliation import LedgerLine, MoneyRecords
from shop.services.balance import BalanceService
from shop.services.orders import OrderService
from shop.services.reconciliation import ReconciliationService
from tests.support import emf
from tests.support.lambda_events import LambdaContext, sample
from tests.support.orders import paid_order

MOUSE = next(p for p in PRODUCTS if p.product_id == "p-mouse")


@pytest.fixture
def shop(local_db: Any) -> Any:
    """Two users with money moved through the services: charges, and an order each."""
    ProductRepository().create(MOUSE)
    balances, orders = BalanceService(), OrderService()
    for user, amount in (("u-ann", 200_000), ("u-bob", 90_000)):
        balances.charge(Caller(user), user, amount)
        orders.place(
            Caller(user),
            PlaceOrder.model_validate({"userId": user, "items": [{"productId": MOUSE.product_id, "quantity": 1}]}),
        )
    balances.charge(Caller("u-ann"), "u-ann", 1_000)
    return local_db


def run_function(capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, int], str]:
    """LedgerReconciliationFunction on its sample event: its answer and what it printed."""
    capsys.readouterr()
    answer = load_handler("LedgerReconciliationFunction")(sample("ledger_reconciliation.json"), LambdaContext())
    return answer, capsys.readouterr().out


def findings_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("LEDGER MISMATCH")]


def plant_balance_change(client: Any, user: str, amount: int) -> int:
    """Add `amount` to the user's balance with no entry (a write around the shop's code)."""
    answer = client.update_item(
        TableName="BalancesTable",
        Key={"userId": {"S": user}},
        UpdateExpression="ADD balance :amount",
        ExpressionAttributeValues={":amount": {"N": str(amount)}},
        ReturnValues="UPDATED_NEW",
    )
    return int(answer["Attributes"]["balance"]["N"])


def plant_unpaid_order(client: Any, order_id: str, user: str) -> None:
    """Store an order with no PAYMENT entry and no debit."""
    order = paid_order([(MOUSE, 2)], order_id=order_id, user_id=user)
    client.put_item(TableName="OrdersTable", Item=dynamodb.to_attribute_values(order_item(order)))


def test_money_moved_through_the_services_adds_up_and_the_metric_says_0(
    shop: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    answer, printed = run_function(capsys)

    assert answer == {"users": 2, "entries": 5, "orders": 2, "findings": 0, "unsettled": 0}
    assert emf.metric_values(printed, "LedgerMismatch") == [0]
    assert emf.metric_values(printed, "LedgerUsersChecked") == [2]
    assert findings_logged(caplog) == []


def test_a_balance_changed_past_the_ledger_is_found_with_its_user(
    shop: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    balance = plant_balance_change(shop, "u-bob", 5_000)

    answer, printed = run_function(capsys)

    assert answer["findings"] == 1
    assert emf.metric_values(printed, "LedgerMismatch") == [1]
    (logged,) = findings_logged(caplog)
    assert (logged.levelname, logged.user_id, logged.balance, logged.ledger_sum) == (  # type: ignore[attr-defined]
        "ERROR",
        "u-bob",
        balance,
        balance - 5_000,
    )


def test_an_order_without_its_payment_entry_is_found_with_its_user(
    shop: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    plant_unpaid_order(shop, "o-unpaid", "u-ann")

    answer, printed = run_function(capsys)

    assert (answer["orders"], answer["findings"]) == (3, 1)
    assert emf.metric_values(printed, "LedgerMismatch") == [1]
    (logged,) = findings_logged(caplog)
    assert (logged.order_id, logged.user_id) == ("o-unpaid", "u-ann")  # type: ignore[attr-defined]


def test_the_metric_counts_every_finding_across_parallel_segments_and_small_pages(shop: Any) -> None:
    for index in range(40):
        BalanceService().charge(Caller(f"u-{index:02}"), f"u-{index:02}", 1_000 + index)
    plant_balance_change(shop, "u-07", -300)
    plant_balance_change(shop, "u-31", 2)
    plant_unpaid_order(shop, "o-unpaid", "u-12")
    records = MoneyRecords(segments=4, page_size=3)

    found = ReconciliationService(records).run()

    assert (found.users, found.entries, found.orders) == (42, 45, 3)  # every item once, none twice
    assert found.mismatches == [
        BalanceMismatch(user_id="u-07", balance=1_007 - 300, ledger_sum=1_007),
        BalanceMismatch(user_id="u-31", balance=1_031 + 2, ledger_sum=1_031),
    ]
    assert found.unpaid_orders == [UnpaidOrder(order_id="o-unpaid", user_id="u-12")]
    assert found.findings == 3


class ChargeDuringTheScans(MoneyRecords):
    """The records, with a charge committed after the balances were scanned and before the ledger
    is: the scans disagree about that user, as they would with the shop running."""

    def entries(self) -> Iterator[LedgerLine]:
        BalanceService().charge(Caller("u-bob"), "u-bob", 7_000)
        yield from super().entries()


def test_a_charge_committed_during_the_scans_is_not_reported(shop: Any) -> None:
    found = ReconciliationService(ChargeDuringTheScans()).run()

    assert found.holds, found.differences
    assert found.entries == 6  # the ledger scan saw the new entry, the balance scan did not


def test_make_ledger_check_reports_what_the_function_reports(shop: Any) -> None:
    from local_runtime.ledger_check import check

    balance = plant_balance_change(shop, "u-ann", 1)
    plant_unpaid_order(shop, "o-unpaid", "u-bob")

    report = check(shop)

    assert balance == 200_000 - MOUSE.price + 1_000 + 1
    assert report.differences == [
        f"user u-ann: balance {balance:,}, charges minus payments {balance - 1:,}",
        "order o-unpaid of user u-bob has no PAYMENT entry",
    ]
