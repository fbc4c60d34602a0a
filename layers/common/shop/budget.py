"""The time an invocation may still spend: the Lambda context's remaining time, minus a margin
kept to answer. Set once per invocation by the entry point; read by whatever resends a call."""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Protocol

MARGIN_SECONDS = 0.5
"""Kept back from the function's remaining time to answer (and let the idempotency record go)."""

DEFAULT_SECONDS = 8.0
"""The budget outside an invocation (a script, a test calling a service)."""

_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


class HasRemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def start(context: HasRemainingTime | None) -> None:
    """Begin an invocation's budget: what the context says remains, minus the margin."""
    seconds = DEFAULT_SECONDS
    if context is not None:
        try:
            seconds = context.get_remaining_time_in_millis() / 1000 - MARGIN_SECONDS
        except (AttributeError, TypeError):
            seconds = DEFAULT_SECONDS
    _deadline.set(time.monotonic() + seconds)


def remaining() -> float:
    """Seconds left in the budget (negative once it is spent)."""
    deadline = _deadline.get()
    if deadline is None:
        return DEFAULT_SECONDS
    return deadline - time.monotonic()
