"""The load's stages over time, as pure arithmetic (the Locust shape in `locustfile` follows them).

A run keeps its shoppers for the whole duration; from 40 % to 70 % of it a crowd of flash-sale
issuers joins them within about a second, all after one campaign, and leaves as fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SPIKE_FROM = 0.4
"""When the flash sale starts, as a share of the run's duration."""
SPIKE_TO = 0.7
"""When it ends."""
MIN_DURATION_SECONDS = 10.0


@dataclass(frozen=True)
class Stage:
    """Until `ends_at` seconds from the start: this many shoppers and issuers, started (or stopped)
    at `spawn_rate` users a second."""

    name: str
    ends_at: float
    shoppers: int
    issuers: int
    spawn_rate: float

    @property
    def users(self) -> int:
        return self.shoppers + self.issuers


def stages(shoppers: int, issuers: int, duration: float) -> list[Stage]:
    """The run's stages: steady shoppers, the flash sale (shoppers and `issuers`), steady again."""
    if shoppers < 1:
        raise ValueError(f"a run needs at least one shopper, not {shoppers}")
    if issuers < 0:
        raise ValueError(f"the flash sale's issuers cannot be negative ({issuers})")
    if duration < MIN_DURATION_SECONDS:
        raise ValueError(f"a run lasts at least {MIN_DURATION_SECONDS:g} s, not {duration:g}")
    crowd = float(max(shoppers, issuers))  # everyone joins (or leaves) within about a second
    return [
        Stage("steady", round(duration * SPIKE_FROM, 3), shoppers, 0, float(shoppers)),
        Stage("flash sale", round(duration * SPIKE_TO, 3), shoppers, issuers, crowd),
        Stage("after the sale", float(duration), shoppers, 0, crowd),
    ]


def stage_at(run_stages: Sequence[Stage], seconds: float) -> Stage | None:
    """The stage in force `seconds` after the start; None once the run is over."""
    for stage in run_stages:
        if seconds < stage.ends_at:
            return stage
    return None
