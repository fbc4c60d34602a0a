"""The reconciliation's rule with records given by hand (what the scans suggest, what the
confirming reads answer), and LedgerReconciliationFunction on moto: its answer, its metrics."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from local_runtime.handler_loader import load_handler
from local_runtime.seed import BALANCES
from shop.errors import ReconciliationIncomplete
from shop.models.reconciliation import BalanceMismatch, UnpaidOrder
from shop.repositories.reconciliation import LedgerLine, MoneyRecords, OrderOwner
from shop.services import reconciliation
from shop.services.reconciliation import ReconciliationService, ledger_sum, signed
from tests.support import emf
from tests.support.lambda_events import LambdaContext, sample


def charge(user: str, entry: str, amount: int) -> LedgerLine:
    return LedgerLine(user, entry, "CHARGE", amount, None)


def payment(user: str, order: str, amount: int) -> LedgerLine:
    return LedgerLine(user, order, "PAYMENT", amount, order)


@dataclass
class Records:
    """What the scans read, and what the consistent reads answer (each read of a user's ledger
    takes the next of `ledgers[user]`, the last one thereafter)."""

    scanned_balances: dict[str, int]
    scanned_entries: list[LedgerLine]
    scanned_orders: list[OrderOwner] = field(default_factory=list)
    balances_now: dict[str, int] = field(default_factory=dict)
    ledgers: dict[str, list[list[LedgerLine]]] = field(default_factory=dict)
    payments_now: set[str] = field(default_factory=set)
    reads: list[str] = field(default_factory=list)

    def balances(self) -> Iterator[tuple[str, int]]:
        yield from self.scanned_balances.items()

    def entries(self) -> Iterator[LedgerLine]:
        yield from self.scanned_entries

    def orders(self) -> Iterator[OrderOwner]:
        yield from self.scanned_orders

    def balance(self, user_id: str) -> int:
        self.reads.append(f"balance {user_id}")
        return self.balances_now.get(user_id, 0)

    def entries_of(self, user_id: str) -> list[LedgerLine]:
        self.reads.append(f"ledger {user_id}")
        versions = self.ledgers.get(user_id, [[]])
        return versions.pop(0) if len(versions) > 1 else versions[0]

    def has_payment(self, user_id: str, order_id: str) -> bool:
        self.reads.append(f"payment {order_id}")
        return order_id in self.payments_now


def service(records: Records) -> ReconciliationService:
    return ReconciliationService(records)  # type: ignore[arg-type]  # the records' shape, by hand


def test_a_charge_adds_a_payment_takes_and_nothing_else_is_money() -> None:
    assert ledger_sum([charge("u", "e1", 500), payment("u", "o1", 200), charge("u", "e2", 1)]) == 301
    with pytest.raises(ValueError, match="unknown type 'REFUND'"):
        signed(LedgerLine("u", "e3", "REFUND", 5, None))


def test_when_the_scans_agree_nothing_is_read_again() -> None:
    records = Records(
        scanned_balances={"u-1": 300, "u-2": 0},
        scanned_entries=[charge("u-1", "e1", 500), payment("u-1", "o1", 200)],
        scanned_orders=[OrderOwner("o1", "u-1")],
    )

    found = service(records).run()

    assert (found.users, found.entries, found.orders, found.findings) == (2, 2, 1, 0)
    assert records.reads == []


def test_a_difference_the_consistent_reads_confirm_is_reported_with_both_sides() -> None:
    ledger = [charge("u-1", "e1", 500)]
    records = Records(
        scanned_balances={"u-1": 800},
        scanned_entries=ledger,
        balances_now={"u-1": 800},
        ledgers={"u-1": [ledger]},
    )

    found = service(records).run()

    assert found.mismatches == [BalanceMismatch(user_id="u-1", balance=800, ledger_sum=500)]
    assert records.reads == ["ledger u-1", "balance u-1", "ledger u-1"]


def test_a_difference_made_by_a_charge_between_the_scans_is_not_reported() -> None:
    # The balance scan read 500; then a charge of 100 committed; the ledger scan saw its entry.
    now = [charge("u-1", "e1", 500), charge("u-1", "e2", 100)]
    records = Records(
        scanned_balances={"u-1": 500},
        scanned_entries=now,
        balances_now={"u-1": 600},
        ledgers={"u-1": [now]},
    )

    assert service(records).run().holds


def test_a_ledger_that_grows_between_the_confirming_reads_is_read_again() -> None:
    before = [charge("u-1", "e1", 500)]
    after = [*before, charge("u-1", "e2", 100)]
    records = Records(
        scanned_balances={"u-1": 700},
        scanned_entries=before,
        balances_now={"u-1": 700},
        ledgers={"u-1": [before, after, after]},
    )

    found = service(records).run()

    assert found.mismatches == [BalanceMismatch(user_id="u-1", balance=700, ledger_sum=600)]
    assert records.reads.count("ledger u-1") == 4


def test_a_user_whose_ledger_never_stops_growing_is_left_for_the_next_run() -> None:
    versions = [[charge("u-1", f"e{n}", 1) for n in range(count)] for count in range(1, 10)]
    records = Records(
        scanned_balances={"u-1": 99}, scanned_entries=versions[0], balances_now={"u-1": 99}, ledgers={"u-1": versions}
    )

    found = service(records).run()

    assert (found.findings, found.unsettled_users) == (0, ["u-1"])
    assert records.reads.count("ledger u-1") == 2 * reconciliation.CONFIRM_ATTEMPTS


def test_an_order_is_unpaid_only_when_the_consistent_read_finds_no_payment() -> None:
    records = Records(
        scanned_balances={},
        scanned_entries=[],
        scanned_orders=[OrderOwner("o-late", "u-1"), OrderOwner("o-lost", "u-2")],
        payments_now={"o-late"},  # committed after the ledger scan passed
    )

    found = service(records).run()

    assert found.unpaid_orders == [UnpaidOrder(order_id="o-lost", user_id="u-2")]
    assert found.differences == ["order o-lost of user u-2 has no PAYMENT entry"]


def test_a_run_out_of_time_stops_rather_than_conclude(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconciliation.budget, "remaining", lambda: reconciliation.STOP_SECONDS - 0.1)
    records = Records(scanned_balances={"u-1": 1}, scanned_entries=[])

    with pytest.raises(ReconciliationIncomplete) as stopped:
        service(records).run()

    assert (stopped.value.stage, stopped.value.read) == ("balances", 1)


def test_segments_are_at_least_one() -> None:
    with pytest.raises(ValueError, match="segments"):
        MoneyRecords(segments=0)


# ---------------------------------------------------------------- the function, on moto


@dataclass
class ShortContext(LambdaContext):
    millis: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def run(context: Any, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    capsys.readouterr()
    answer = load_handler("LedgerReconciliationFunction")(sample("ledger_reconciliation.json"), context)
    return answer, capsys.readouterr().out


def test_the_function_counts_a_planted_difference_in_its_metric(
    seeded: None, aws: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    aws.put_item(TableName="BalancesTable", Item={"userId": {"S": "user-2"}, "balance": {"N": "1"}})
    aws.put_item(
        TableName="OrdersTable",
        Item={"orderId": {"S": "o-unpaid"}, "userId": {"S": "user-1"}, "seq": {"S": "0#o-unpaid"}},
    )

    answer, printed = run(LambdaContext(), capsys)

    assert answer == {"users": len(BALANCES), "entries": len(BALANCES), "orders": 1, "findings": 2, "unsettled": 0}
    (document,) = [m for m in emf.metrics(printed) if m["name"] == "LedgerMismatch"]
    assert (document["namespace"], document["dimensions"], document["unit"], document["values"]) == (
        "Shop",
        {"service": "shop"},
        "Count",
        [2],
    )
    assert emf.metric_values(printed, "LedgerUsersChecked") == [len(BALANCES)]
    logged = [vars(r) for r in caplog.records if r.getMessage().startswith("LEDGER MISMATCH")]
    assert [(r["user_id"], r.get("balance"), r.get("ledger_sum"), r.get("order_id")) for r in logged] == [
        ("user-2", 1, BALANCES["user-2"], None),
        ("user-1", None, None, "o-unpaid"),
    ]


def test_the_function_fails_when_its_time_runs_out_and_reports_no_count(
    seeded: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), pytest.raises(ReconciliationIncomplete):
        run(ShortContext(millis=int(reconciliation.STOP_SECONDS * 1000)), capsys)

    assert emf.metric_values(capsys.readouterr().out, "LedgerMismatch") == []
    assert any(r.getMessage().startswith("LEDGER RECONCILIATION INCOMPLETE") for r in caplog.records)
