"""Retry with full-jitter backoff (`shop.retry`): how many attempts, how long each pause may be,
what is tried again and what is not."""

from __future__ import annotations

import random

import pytest

from shop.repositories import dynamodb
from shop.repositories.balances import REREAD_BACKOFF
from shop.retry import Backoff, retry


class Busy(Exception):
    pass


class Broken(Exception):
    pass


class Flaky:
    """Fails with `errors` in turn, then answers "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def busy(error: Exception) -> bool:
    return isinstance(error, Busy)


def test_an_accepted_failure_is_tried_again_after_a_pause_until_the_call_answers() -> None:
    flaky, pauses = Flaky(Busy(), Busy()), []
    assert retry(flaky, retry_on=busy, backoff=Backoff(0.01, 1.0, max_attempts=5), sleep=pauses.append) == "done"
    assert flaky.calls == 3
    assert len(pauses) == 2


def test_a_failure_not_accepted_is_raised_at_once_without_a_pause() -> None:
    flaky, pauses = Flaky(Busy(), Broken()), []
    with pytest.raises(Broken):
        retry(flaky, retry_on=busy, backoff=Backoff(0.01, 1.0, max_attempts=5), sleep=pauses.append)
    assert flaky.calls == 2
    assert len(pauses) == 1


def test_the_last_attempts_failure_is_raised_as_it_is() -> None:
    flaky, pauses = Flaky(*[Busy() for _ in range(10)]), []
    with pytest.raises(Busy):
        retry(flaky, retry_on=busy, backoff=Backoff(0.01, 1.0, max_attempts=4), sleep=pauses.append)
    assert flaky.calls == 4  # max_attempts counts the first call
    assert len(pauses) == 3  # no pause after the last one


def test_without_a_limit_the_caller_says_when_to_stop() -> None:
    flaky, pauses = Flaky(*[Busy() for _ in range(100)]), []
    allowed = iter([True] * 6 + [False])
    with pytest.raises(Busy):
        retry(flaky, retry_on=busy, backoff=Backoff(0.01, 1.0), sleep=pauses.append, may_retry=lambda: next(allowed))
    assert flaky.calls == 7
    assert len(pauses) == 6


def test_the_bound_doubles_from_the_first_and_stops_at_the_cap() -> None:
    backoff = Backoff(first_seconds=0.04, cap_seconds=0.5)
    assert [backoff.bound(n) for n in range(1, 8)] == [0.04, 0.08, 0.16, 0.32, 0.5, 0.5, 0.5]
    assert backoff.bound(10_000) == 0.5  # however many retries


def test_each_pause_is_drawn_between_0_and_its_bound() -> None:
    backoff = Backoff(first_seconds=0.04, cap_seconds=0.5)
    draws: list[tuple[float, float]] = []

    def draw(low: float, high: float) -> float:
        draws.append((low, high))
        return high

    assert [backoff.pause_before(n, draw) for n in (1, 2, 9)] == [0.04, 0.08, 0.5]
    assert draws == [(0, 0.04), (0, 0.08), (0, 0.5)]
    seeded = random.Random(1)
    pauses = [backoff.pause_before(n, seeded.uniform) for n in range(1, 8) for _ in range(200)]
    assert all(0 <= pause <= 0.5 for pause in pauses)
    assert min(pauses) < 0.01 and max(pauses) > 0.45  # jittered over the whole range


def test_the_pauses_of_a_retried_call_follow_the_backoff() -> None:
    flaky, pauses = Flaky(*[Busy() for _ in range(8)]), []
    with pytest.raises(Busy):
        retry(flaky, retry_on=busy, backoff=dynamodb.BACKOFF, sleep=pauses.append, draw=lambda low, high: high)
    assert pauses == [0.04, 0.08, 0.16, 0.32, 0.5, 0.5, 0.5]


def test_attempts_pause_before_each_retry_only() -> None:
    pauses: list[float] = []
    numbers = []
    for attempt in Backoff(0.01, 0.02, max_attempts=3).attempts(pauses.append, lambda low, high: high):
        numbers.append((attempt, list(pauses)))
    assert numbers == [(0, []), (1, [0.01]), (2, [0.01, 0.02])]


def test_the_layers_two_backoffs() -> None:
    """Transactions and unprocessed keys: 8 attempts, 40 ms doubled up to 500 ms; a balance read
    again after it changed: 5 ms doubled up to 100 ms, while the time budget lasts."""
    assert (dynamodb.BACKOFF.max_attempts, dynamodb.BACKOFF.bound(1), dynamodb.BACKOFF.bound(7)) == (8, 0.04, 0.5)
    assert (REREAD_BACKOFF.max_attempts, REREAD_BACKOFF.bound(1), REREAD_BACKOFF.bound(9)) == (None, 0.005, 0.1)
