"""A clock for the services' `now`, showing the time a test sets."""

from __future__ import annotations

from datetime import datetime

from shop import clock


class SetClock:
    """Shows `at` (the real time when made) until set to another time."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or clock.now()

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at
