"""A flash sale against DynamoDB's per-partition limits, simulated in virtual time.

This machine cannot send 10,000 requests a second, so the issue path is replayed as discrete
events on a model of DynamoDB: every item on its own partition, each partition a token bucket of
1,000 WCU/s and 3,000 RCU/s; a transactional write of a small item costs 2 WCU; a transaction holds
its items from prepare to commit, and another transaction reaching a held item is cancelled with
`TransactionConflict`. The requests follow `CouponService.issue` step by step (the first request of a
function instance reads shard 0, a warm instance goes straight to the transaction on a shard it has
not seen empty, with the layer's retries and backoff from `shop.repositories.dynamodb`; the walk to
the other shards; the sold-out mark), so the figures move when that code's policy does. Requests
are served by function instances as Lambda runs them: an idle one if any (the most recently freed),
else a new, cold one; each remembers, for its whole life, the campaign, the shards it has seen
empty and whether the campaign is sold out.

Nothing here reads a clock: a run is a function of its parameters and its seed.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from shop.repositories import dynamodb


@dataclass(frozen=True)
class Limits:
    """DynamoDB as modelled. The limits are DynamoDB's documented ones; the latencies are
    assumptions (typical in-region figures), and `transaction_hold` drives the conflicts."""

    partition_wcu: float = 1_000.0  # per partition per second
    partition_rcu: float = 3_000.0  # strongly consistent reads of items up to 4 KB
    burst_seconds: float = 0.1  # a partition's bucket holds this much of a second's capacity
    transaction_item_wcu: int = 2  # per item of 1 KB or less in a TransactWriteItems
    cancelled_item_wcu: int = 1  # a cancelled transaction is charged its prepare write, per item
    read_rcu: float = 1.0  # a consistent read of an item up to 4 KB
    eventual_read_rcu: float = 0.5  # eventually consistent: an instance's first read, the walk's read of every shard
    one_way: float = 0.002  # seconds between the function and DynamoDB, each way
    service_time: float = 0.001  # a read, a plain write or a refused transaction, inside DynamoDB
    transaction_hold: float = 0.008  # a transaction holds its items from prepare to commit


# botocore's standard mode: 3 attempts in all for a throttled read, pausing up to 1 s, then 2 s.
READ_ATTEMPTS = 3


@dataclass
class Partition:
    """One item's partition: a token bucket for writes and one for reads, and the transaction
    holding the item, if any, until `held_until`."""

    wcu_rate: float
    rcu_rate: float
    burst: float
    wcu: float = 0.0
    rcu: float = 0.0
    at: float = 0.0
    held_until: float = -1.0
    consumed_wcu: float = 0.0
    consumed_rcu: float = 0.0

    def __post_init__(self) -> None:
        self.wcu = self.wcu_rate * self.burst
        self.rcu = self.rcu_rate * self.burst

    def _refill(self, now: float) -> None:
        elapsed = now - self.at
        if elapsed > 0:
            self.wcu = min(self.wcu_rate * self.burst, self.wcu + elapsed * self.wcu_rate)
            self.rcu = min(self.rcu_rate * self.burst, self.rcu + elapsed * self.rcu_rate)
            self.at = now

    def can_write(self, now: float, units: float) -> bool:
        self._refill(now)
        return self.wcu >= units

    def write(self, now: float, units: float) -> bool:
        """Take `units` WCU if the bucket holds them (else the request is throttled)."""
        self._refill(now)
        if self.wcu < units:
            return False
        self.wcu -= units
        self.consumed_wcu += units
        return True

    def read(self, now: float, units: float) -> bool:
        self._refill(now)
        if self.rcu < units:
            return False
        self.rcu -= units
        self.consumed_rcu += units
        return True


@dataclass
class Container:
    """A function instance's memory of the campaign, kept for its whole life: quantities only go
    down, so nothing of it is ever unlearnt."""

    knows: bool = False  # the campaign's data and shard count
    empty: set[int] = field(default_factory=set)  # the shards it has seen empty
    sold_out: bool = False


@dataclass
class Shard:
    remaining: int
    sold_out: bool = False
    partition: Partition = field(default_factory=lambda: Partition(0, 0, 0))


# What a request asks of the simulated DynamoDB (it is resumed with the answer):
#   ("read", index) -> (remaining, sold_out) or None when throttled
#   ("batch", [indices]) -> {index: (remaining, sold_out)} (throttled keys left out: unprocessed)
#   ("transact", index) -> "ok" | "conflict" | "throttled" | "empty" | "empty, marked" (the
#       cancelled transaction returns the shard's old item: marked sold out or not)
#   ("mark", [indices]) -> None (one transaction marking the shards sold out; best effort)
#   ("sleep", seconds) -> None
Op = tuple[str, Any]
Process = Generator[Op, Any, str]


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    transactions: int = 0
    conflicts: int = 0
    throttled: int = 0
    retries: int = 0
    reads: int = 0
    read_retries: int = 0
    batch_reads: int = 0
    marks: int = 0
    issued_in_window: int = 0
    latest_commit: float = 0.0


class FlashSale:
    """One campaign of `quantity` coupons in `shards` shards, under `offered` requests/s (Poisson
    arrivals, each from a new user) for `seconds` of virtual time."""

    def __init__(
        self,
        quantity: int,
        shards: int,
        offered: float,
        seconds: float,
        *,
        seed: int = 15,
        limits: Limits | None = None,
    ) -> None:
        from shop.models.coupon import split

        self.limits = limits or Limits()
        self.quantity = quantity
        self.count = shards
        self.offered = offered
        self.seconds = seconds
        # issues/s is counted after the first 0.1 s (idle shards, full buckets) and up to the end
        # of the arrivals (requests still retrying then are not counted)
        self.warmup = min(0.1, seconds / 5)
        self.random = random.Random(seed)
        lim = self.limits
        self.shards = [
            Shard(part, partition=Partition(lim.partition_wcu, lim.partition_rcu, lim.burst_seconds))
            for part in split(quantity, shards)
        ]
        self.issued = 0
        self.holders: Counter[int] = Counter()
        self.tally = Tally()
        self.idle: list[Container] = []  # the most recently freed last
        self.containers = 0
        self.busy = 0
        self.peak_concurrency = 0
        self.now = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = 0

    # ------------------------------------------------------------ the event loop

    def _at(self, time: float, action: Callable[[], None]) -> None:
        self._sequence += 1
        heapq.heappush(self._events, (time, self._sequence, action))

    def run(self) -> dict[str, Any]:
        arrival = 0.0
        user = 0
        while True:
            arrival += self.random.expovariate(self.offered)
            if arrival >= self.seconds:
                break
            self._at(arrival, partial(self._start, user))
            user += 1
        while self._events:
            self.now, _, action = heapq.heappop(self._events)
            action()
        return self.result(user)

    def _start(self, user: int) -> None:
        """A request arrives: an idle container serves it (the most recently freed), else a new one;
        it stays busy until the request ends."""
        if self.idle:
            container = self.idle.pop()
        else:
            container = Container()
            self.containers += 1
        self.busy += 1
        self.peak_concurrency = max(self.peak_concurrency, self.busy)
        self._step(self._request(user, container), None, container)

    def _step(self, process: Process, answer: Any, container: Container) -> None:
        try:
            op = process.send(answer)
        except StopIteration as done:
            self.tally.outcomes[done.value] += 1
            self.busy -= 1
            self.idle.append(container)
            return
        kind, argument = op
        if kind == "sleep":
            self._at(self.now + argument, lambda: self._step(process, None, container))
            return
        arrives = self.now + self.limits.one_way

        def serve() -> None:
            result, busy = self._serve(kind, argument)
            self._at(self.now + busy + self.limits.one_way, lambda: self._step(process, result, container))

        self._at(arrives, serve)

    # ------------------------------------------------------------ DynamoDB, as modelled

    def _serve(self, kind: str, argument: Any) -> tuple[Any, float]:
        """The answer to an operation reaching DynamoDB now, and how long DynamoDB takes."""
        lim = self.limits
        if kind == "read":
            self.tally.reads += 1
            shard = self.shards[argument]
            # an instance's first read of a campaign, eventually consistent
            if not shard.partition.read(self.now, lim.eventual_read_rcu):
                self.tally.throttled += 1
                return None, lim.service_time
            return (shard.remaining, shard.sold_out), lim.service_time
        if kind == "batch":
            self.tally.batch_reads += 1
            seen = {}
            units = lim.read_rcu if self.count == 1 else lim.eventual_read_rcu
            for index in argument:
                shard = self.shards[index]
                if shard.partition.read(self.now, units):
                    seen[index] = (shard.remaining, shard.sold_out)
                else:
                    self.tally.throttled += 1
            return seen, lim.service_time
        if kind == "mark":
            self.tally.marks += 1
            marked = [self.shards[index] for index in argument]
            if any(shard.partition.held_until > self.now for shard in marked):
                self.tally.conflicts += 1
                return None, lim.service_time
            if not all(shard.partition.can_write(self.now, lim.transaction_item_wcu) for shard in marked):
                self.tally.throttled += 1
                return None, lim.service_time
            for shard in marked:
                shard.partition.write(self.now, lim.transaction_item_wcu)
                shard.partition.held_until = self.now + lim.transaction_hold
                shard.sold_out = True
            return None, lim.transaction_hold
        if kind == "transact":
            return self._transact(self.shards[argument])
        raise ValueError(kind)

    def _transact(self, shard: Shard) -> tuple[str, float]:
        """The shard's decrement and the user's coupon put (the user's own partition, never
        contended: every simulated user is new), as one transaction."""
        lim = self.limits
        self.tally.transactions += 1
        partition = shard.partition
        if partition.held_until > self.now:
            self.tally.conflicts += 1
            partition.write(self.now, lim.cancelled_item_wcu)
            return "conflict", lim.service_time
        if shard.remaining <= 0:
            if not partition.write(self.now, lim.cancelled_item_wcu):
                self.tally.throttled += 1
                return "throttled", lim.service_time
            return ("empty, marked" if shard.sold_out else "empty"), lim.service_time
        if not partition.write(self.now, lim.transaction_item_wcu):
            self.tally.throttled += 1
            return "throttled", lim.service_time
        partition.held_until = self.now + lim.transaction_hold
        shard.remaining -= 1  # held until commit: no other transaction or condition sees it before
        self.issued += 1
        committed = self.now + lim.transaction_hold
        if self.warmup <= committed <= self.seconds:
            self.tally.issued_in_window += 1
        self.tally.latest_commit = max(self.tally.latest_commit, committed)
        return "ok", lim.transaction_hold

    # ------------------------------------------------------------ the request, as CouponService.issue

    def _read(self, index: int) -> Generator[Op, Any, tuple[int, bool] | None]:
        for attempt in range(READ_ATTEMPTS):
            if attempt:
                self.tally.read_retries += 1
                yield ("sleep", self.random.random() * 2 ** (attempt - 1))
            seen = yield ("read", index)
            if seen is not None:
                return seen  # type: ignore[no-any-return]
        return None

    def _take(self, index: int) -> Generator[Op, Any, str]:
        """`dynamodb.transact_write`: retried on conflict and throttling with the layer's backoff.
        "ok", "empty" (the shard holds none), "empty, marked" (none, and the shard is marked sold
        out), or "contended" (conflicts or throttling through every attempt)."""
        for attempt in range(dynamodb.MAX_ATTEMPTS):
            if attempt:
                self.tally.retries += 1
                yield ("sleep", dynamodb.BACKOFF.pause_before(attempt, self.random.uniform))
            answer = yield ("transact", index)
            if answer in ("ok", "empty", "empty, marked"):
                return answer  # type: ignore[no-any-return]
        return "contended"

    def _all(self) -> Generator[Op, Any, dict[int, tuple[int, bool]] | None]:
        """`CouponRepository.shards`: one BatchGetItem, unprocessed keys asked again with backoff."""
        wanted = list(range(self.count))
        seen: dict[int, tuple[int, bool]] = {}
        for attempt in range(dynamodb.MAX_ATTEMPTS):
            if attempt:
                yield ("sleep", dynamodb.BACKOFF.pause_before(attempt, self.random.uniform))
            seen.update((yield ("batch", wanted)))
            wanted = [index for index in wanted if index not in seen]
            if not wanted:
                return seen
        return None

    def _request(self, user: int, container: Container) -> Process:
        if container.sold_out:
            return "409 COUPON_SOLD_OUT (known)"  # no call at all
        if not container.knows:
            # new to the campaign: shard 0 (eventually consistent) holds its data and shard count
            first = yield from self._read(0)
            if first is None:
                return "409 CONCURRENT_UPDATE (reads throttled)"
            container.knows = True
            remaining, sold_out = first
            if remaining <= 0:
                container.empty.add(0)
            if sold_out or (self.count == 1 and remaining <= 0):
                container.sold_out = True
                return "409 COUPON_SOLD_OUT (one read)"
        # the transaction on a shard, at random, that this container has not seen empty
        candidates = [index for index in range(self.count) if index not in container.empty]
        tried = set(container.empty)
        if candidates:
            start = self.random.choice(candidates)
            tried.add(start)
            taken = yield from self._take(start)
            if taken == "ok":
                self.holders[user] += 1
                return "201"
            if taken != "contended":
                container.empty.add(start)
                if taken == "empty, marked" or self.count == 1:
                    container.sold_out = True
                    return "409 COUPON_SOLD_OUT (transaction)"
        while True:
            seen = yield from self._all()
            if seen is None:
                return "409 CONCURRENT_UPDATE (reads throttled)"
            container.empty.update(index for index, (left, _) in seen.items() if left <= 0)
            if all(left <= 0 for left, _ in seen.values()):
                unmarked = [index for index, (_, marked) in seen.items() if not marked]
                if self.count > 1 and unmarked:
                    yield ("mark", unmarked)
                container.sold_out = True
                return "409 COUPON_SOLD_OUT"
            open_shards = [index for index, (left, _) in seen.items() if left > 0 and index not in tried]
            if not open_shards:
                return "409 CONCURRENT_UPDATE"
            self.random.shuffle(open_shards)
            for index in open_shards:
                tried.add(index)
                taken = yield from self._take(index)
                if taken == "ok":
                    self.holders[user] += 1
                    return "201"
                if taken != "contended":
                    container.empty.add(index)
                    if taken == "empty, marked" or self.count == 1:
                        container.sold_out = True
                        return "409 COUPON_SOLD_OUT (transaction)"

    # ------------------------------------------------------------ the result

    def result(self, requests: int) -> dict[str, Any]:
        left = sum(shard.remaining for shard in self.shards)
        wcu = sum(shard.partition.consumed_wcu for shard in self.shards)
        rcu = sum(shard.partition.consumed_rcu for shard in self.shards)
        # the coupons' own items: one put per issued coupon, each on its user's partition
        wcu += self.issued * self.limits.transaction_item_wcu
        answered = sum(n for outcome, n in self.tally.outcomes.items() if "CONCURRENT_UPDATE" not in outcome)
        busiest = max(shard.partition.consumed_wcu for shard in self.shards)
        span = max(self.seconds, self.tally.latest_commit)
        return {
            "shards": self.count,
            "offered_rps": self.offered,
            "seconds": self.seconds,
            "requests": requests,
            "issued": self.issued,
            "issues_per_s": self.tally.issued_in_window / (self.seconds - self.warmup),
            "remaining": left,
            "exactly_n": self.issued + left == self.quantity and self.issued <= self.quantity,
            "one_per_user": all(n == 1 for n in self.holders.values()) and sum(self.holders.values()) == self.issued,
            "sold_out": left == 0,
            "answered_share": answered / requests if requests else 1.0,
            "outcomes": dict(self.tally.outcomes),
            "transactions": self.tally.transactions,
            "conflicts": self.tally.conflicts,
            "throttled": self.tally.throttled,
            "retries": self.tally.retries,
            "reads": self.tally.reads,
            "read_retries": self.tally.read_retries,
            "containers": self.containers,
            "peak_concurrency": self.peak_concurrency,
            "batch_reads": self.tally.batch_reads,
            "marks": self.tally.marks,
            "wcu_per_issued": wcu / self.issued if self.issued else None,
            "rcu_per_request": rcu / requests if requests else None,
            "busiest_partition_wcu_per_s": busiest / span,
            "span_seconds": span,
        }


def simulate(quantity: int, shards: int, offered: float, seconds: float, **options: Any) -> dict[str, Any]:
    return FlashSale(quantity, shards, offered, seconds, **options).run()


LOADS = (2_500, 5_000, 10_000, 20_000)
CAMPAIGN = 100_000
TODAY_WCU_PER_ISSUE = 4


def sweep(seconds: float = 0.6) -> dict[str, Any]:
    """The figures `make bench` prints: 1 shard, the default of a 1,000-coupon campaign, and the
    default of a 100,000-coupon campaign (which is also the maximum), at each offered load; one
    sell-out run; and the default's ceiling with a shorter and a longer transaction hold."""
    from shop.models.coupon import MAX_SHARDS, default_shards

    default = default_shards(CAMPAIGN)
    counts = sorted({1, default_shards(1_000), default, MAX_SHARDS})
    runs = [simulate(CAMPAIGN, shards, load, seconds) for shards in counts for load in LOADS]
    sell_out = simulate(10_000, default_shards(10_000), 10_000, 1.5)
    hold = [
        {
            "transaction_hold_ms": ms,
            **simulate(CAMPAIGN, default, LOADS[-1], seconds, limits=Limits(transaction_hold=ms / 1000)),
        }
        for ms in (4, 12)
    ]
    return {
        "campaign": CAMPAIGN,
        "default_shards": default,
        "max_shards": MAX_SHARDS,
        "limits": Limits().__dict__,
        "runs": runs,
        "sell_out": sell_out,
        "hold_sensitivity": hold,
        "today_wcu_per_issue": TODAY_WCU_PER_ISSUE,
        "all_exactly_n": all(r["exactly_n"] and r["one_per_user"] for r in [*runs, sell_out, *hold]),
    }
