"""Waiting in tests for what happens in the background (a queue drained, an event delivered)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def eventually(check: Callable[[], Any], seconds: float = 15, every: float = 0.05) -> Any:
    """The first truthy result of `check`, polled every `every` seconds until `seconds` pass
    (then its last, falsy, result)."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)
