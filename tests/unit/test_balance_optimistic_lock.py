"""The charge's optimistic lock: the balance is written on condition that it still holds the value
read (`balance = :before`), so a balance changed between the read and the write refuses the write;
the charge then reads again while its time lasts, and answers CONCURRENT_UPDATE after."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from shop import budget
from shop.errors import ConcurrentUpdate
from shop.identity import Caller
from shop.models.balance import BALANCE_LIMIT
from shop.models.ledger import Entry
from shop.repositories.balances import BalanceRepository
from shop.repositories.ledger import LedgerRepository
from shop.retry import Sleep
from shop.services.balance import BalanceService


def charge_entry(user_id: str, entry_id: str, amount: int) -> Callable[[int], dict[str, Any]]:
    """The ledger's transaction item for a CHARGE of `amount`, given the balance it leaves."""
    entry = Entry(entry_id=entry_id, type="CHARGE", amount=amount, at=datetime(2026, 1, 1, tzinfo=UTC))
    return lambda after: LedgerRepository().record(user_id, entry, after)


class ChargedInBetween(BalanceRepository):
    """A balances table where another charge of `amount` lands right after each of the first
    `times` reads: the value read is stale by the time of the write."""

    def __init__(self, amount: int, times: int, sleep: Sleep = time.sleep) -> None:
        super().__init__(sleep=sleep)
        self.amount = amount
        self.times = times
        self.reads: list[int] = []

    def get(self, user_id: str) -> int:
        read = super().get(user_id)
        self.reads.append(read)
        if len(self.reads) <= self.times:
            other = charge_entry(user_id, f"other-{len(self.reads)}", self.amount)
            BalanceRepository().charge(user_id, self.amount, BALANCE_LIMIT, other)
        return read


class NoTimeLeft:
    """A Lambda context whose invocation has no time left for another attempt."""

    def get_remaining_time_in_millis(self) -> int:
        return 0


def without_time_left(call: Callable[[], Any]) -> Any:
    """`call()` in an invocation whose budget is spent (in a context of its own, so that the
    budget does not outlive the test)."""

    def spent() -> Any:
        budget.start(NoTimeLeft())
        return call()

    return contextvars.copy_context().run(spent)


def entries(aws: Any, user_id: str) -> list[tuple[str, int]]:
    answer = aws.query(
        TableName="LedgerTable",
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
    )
    return sorted((item["entryId"]["S"], int(item["amount"]["N"])) for item in answer["Items"])


def test_a_balance_changed_after_its_read_refuses_the_write_which_reads_again(aws: Any) -> None:
    BalanceRepository().charge("u", 100, BALANCE_LIMIT, charge_entry("u", "first", 100))
    pauses: list[float] = []
    racing = ChargedInBetween(amount=50, times=1, sleep=pauses.append)
    built: list[int] = []
    mine = charge_entry("u", "mine", 7)

    def entry(after: int) -> dict[str, Any]:
        built.append(after)
        return mine(after)

    answered = racing.charge("u", 7, BALANCE_LIMIT, entry)

    assert racing.reads == [100, 150]  # read, refused by the condition, read again
    assert built == [107, 157]  # the refused write would have set 107 over the other charge's 150
    assert len(pauses) == 1
    assert answered == 157
    assert BalanceRepository().get("u") == 157
    assert entries(aws, "u") == [("first", 100), ("mine", 7), ("other-1", 50)]


def test_the_refused_write_changes_nothing_when_no_time_is_left_to_read_again(aws: Any) -> None:
    BalanceRepository().charge("u", 100, BALANCE_LIMIT, charge_entry("u", "first", 100))
    racing = ChargedInBetween(amount=50, times=1)

    with pytest.raises(ConcurrentUpdate):
        without_time_left(lambda: racing.charge("u", 7, BALANCE_LIMIT, charge_entry("u", "mine", 7)))

    assert racing.reads == [100]
    assert BalanceRepository().get("u") == 150  # the other charge's, not 107 over it
    assert entries(aws, "u") == [("first", 100), ("other-1", 50)]


def test_the_service_answers_the_balance_its_own_charge_made_after_concurrent_ones(aws: Any) -> None:
    balances = ChargedInBetween(amount=1_000, times=2)

    answered = BalanceService(balances=balances).charge(Caller("u"), "u", 5_000)

    assert balances.reads == [0, 1_000, 2_000]
    assert answered.balance == 7_000  # two concurrent charges of 1,000 landed first
    assert BalanceRepository().get("u") == 7_000
    assert sorted(amount for _, amount in entries(aws, "u")) == [1_000, 1_000, 5_000]


def test_the_service_refuses_with_concurrent_update_when_no_time_is_left_to_read_again(aws: Any) -> None:
    service = BalanceService(balances=ChargedInBetween(amount=1_000, times=1))

    with pytest.raises(ConcurrentUpdate):
        without_time_left(lambda: service.charge(Caller("u"), "u", 5_000))

    assert BalanceRepository().get("u") == 1_000
    assert entries(aws, "u") == [("other-1", 1_000)]
