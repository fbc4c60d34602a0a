"""Time in the shop's business time zone (Asia/Seoul)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

SEOUL = timezone(timedelta(hours=9), "Asia/Seoul")

Clock = Callable[[], datetime]
"""What tells a service the time: `now` in production; tests pass one they set."""


def now() -> datetime:
    """The current instant, in Seoul time, to the second."""
    return datetime.now(SEOUL).replace(microsecond=0)


def business_day(at: datetime) -> date:
    """The Asia/Seoul calendar day an instant falls on."""
    return at.astimezone(SEOUL).date()


def isoformat(at: datetime) -> str:
    """ISO 8601 with the Seoul offset, e.g. 2026-11-24T09:30:00+09:00."""
    return at.astimezone(SEOUL).replace(microsecond=0).isoformat()
