"""Retry with full-jitter exponential backoff: the shop's one way of trying a call again."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

Sleep = Callable[[float], None]
"""How a retry pauses (`time.sleep` in production; tests pass one that records or returns at once)."""

Draw = Callable[[float, float], float]
"""How a pause is drawn between its bounds (`random.uniform`)."""

_LARGEST_DOUBLING = 30
"""Past this many doublings every pause is at its cap anyway (and 2**n stays a float)."""


@dataclass(frozen=True)
class Backoff:
    """Full jitter (the pause before a retry is drawn between 0 and its bound): the bound of the
    first retry's pause is `first_seconds`, doubled for each retry after it, never above
    `cap_seconds`. `max_attempts` counts the first call; None leaves the end to the caller."""

    first_seconds: float
    cap_seconds: float
    max_attempts: int | None = None

    def bound(self, retry: int) -> float:
        """The longest pause before retry number `retry` (1 for the second attempt)."""
        return min(self.cap_seconds, self.first_seconds * 2.0 ** min(retry - 1, _LARGEST_DOUBLING))

    def pause_before(self, retry: int, draw: Draw = random.uniform) -> float:
        """The pause before retry number `retry`, drawn between 0 and its bound."""
        return draw(0, self.bound(retry))

    def attempts(self, sleep: Sleep = time.sleep, draw: Draw = random.uniform) -> Iterator[int]:
        """The attempt numbers, from 0 (up to `max_attempts` - 1), with a pause before each retry.
        For a loop that decides itself what ends it (`break`, `return`)."""
        numbers = range(self.max_attempts) if self.max_attempts is not None else itertools.count()
        for attempt in numbers:
            if attempt:
                sleep(self.pause_before(attempt, draw))
            yield attempt


def retry(
    call: Callable[[], T],
    *,
    retry_on: Callable[[Exception], bool],
    backoff: Backoff,
    sleep: Sleep = time.sleep,
    may_retry: Callable[[], bool] = lambda: True,
    draw: Draw = random.uniform,
) -> T:
    """`call()`, tried again after an exception `retry_on` accepts, with `backoff`'s pauses.

    Any other exception is raised at once. The accepted one is raised as it is after the last
    attempt (`backoff.max_attempts`), or as soon as `may_retry()` says no more time is left."""
    for attempt in itertools.count(1):
        try:
            return call()
        except Exception as error:
            if not retry_on(error) or attempt == backoff.max_attempts or not may_retry():
                raise
        sleep(backoff.pause_before(attempt, draw))
    raise AssertionError("unreachable")
