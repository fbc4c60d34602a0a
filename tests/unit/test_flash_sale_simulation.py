"""The flash-sale simulation's own accounting (bench/flashsale.py): it must be right before its
figures mean anything."""

from __future__ import annotations

from typing import Any

from bench.flashsale import Container, FlashSale, Limits, Process, simulate


def alone(sale: FlashSale, process: Process) -> tuple[str, int]:
    """One request served with nothing else running: its outcome and its calls to DynamoDB."""
    calls = 0
    answer: Any = None
    while True:
        try:
            kind, argument = process.send(answer)
        except StopIteration as done:
            return done.value, calls
        if kind == "sleep":
            sale.now += argument
            answer = None
            continue
        calls += 1
        sale.now += sale.limits.one_way
        answer, busy = sale._serve(kind, argument)
        sale.now += busy + sale.limits.one_way


def test_a_sold_out_campaign_issues_exactly_its_quantity_and_answers_every_request() -> None:
    run = simulate(50, 4, 5_000, 0.5)
    assert run["issued"] == 50
    assert run["remaining"] == 0
    assert run["exactly_n"] and run["one_per_user"]
    assert sum(run["outcomes"].values()) == run["requests"]
    assert run["outcomes"]["201"] == 50
    assert run["requests"] > 1_000


def test_once_sold_out_most_requests_are_answered_with_no_call() -> None:
    run = simulate(20, 4, 2_000, 1.0)
    assert run["marks"] >= 1
    assert run["outcomes"]["409 COUPON_SOLD_OUT (known)"] > run["requests"] / 2
    # only a cold container reads (again after its reads were throttled through every attempt)
    throttled_through = run["outcomes"].get("409 CONCURRENT_UPDATE (reads throttled)", 0)
    assert run["reads"] <= run["containers"] + run["read_retries"] + throttled_through
    assert run["containers"] < run["requests"] / 5


def test_a_warm_container_makes_no_read_before_its_transaction() -> None:
    run = simulate(100_000, 100, 1_000, 1.0)  # far more coupons than requests, no throttling
    assert run["throttled"] == 0
    assert run["issued"] == run["requests"]
    assert run["reads"] == run["containers"] < run["requests"] / 5


class Timed(FlashSale):
    """A sale that records when each request ran, and on which container."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self.spans: list[tuple[float, float, int]] = []

    def _request(self, user: int, container: Container) -> Process:
        began = self.now
        outcome = yield from super()._request(user, container)
        self.spans.append((began, self.now, id(container)))
        return outcome


def test_containers_are_reused_and_never_exceed_the_peak_concurrency() -> None:
    sale = Timed(100_000, 100, 1_000, 1.0)
    run = sale.run()
    assert len(sale.spans) == run["requests"]
    edges = sorted([(end, -1) for _, end, _ in sale.spans] + [(began, 1) for began, _, _ in sale.spans])
    busy = peak = 0
    for _, step in edges:
        busy += step
        peak = max(peak, busy)
    assert run["containers"] <= peak == run["peak_concurrency"]
    assert run["containers"] < run["requests"] / 5
    assert len({container for _, _, container in sale.spans}) == run["containers"]
    # a container serves one request at a time
    last_end: dict[int, float] = {}
    for began, end, container in sorted(sale.spans):
        assert began >= last_end.get(container, 0.0)
        last_end[container] = end


def test_a_container_that_saw_the_campaign_sold_out_answers_with_no_call() -> None:
    sale = FlashSale(1, 1, 1.0, 0.0)
    container = Container()
    assert alone(sale, sale._request(0, container)) == ("201", 2)  # cold: the read, the transaction
    assert alone(sale, sale._request(1, container)) == ("409 COUPON_SOLD_OUT (transaction)", 1)
    assert container.sold_out
    calls = (sale.tally.reads, sale.tally.transactions)
    assert alone(sale, sale._request(2, container)) == ("409 COUPON_SOLD_OUT (known)", 0)
    assert (sale.tally.reads, sale.tally.transactions) == calls == (1, 2)
    other = Container()
    assert alone(sale, sale._request(3, other)) == ("409 COUPON_SOLD_OUT (one read)", 1)
    assert other.sold_out


def test_a_container_remembers_the_shards_it_saw_empty() -> None:
    sale = FlashSale(1, 2, 1.0, 0.0)  # shard 0 holds the coupon, shard 1 none
    sale.shards[0].remaining, sale.shards[1].remaining = 0, 1
    container = Container()
    # cold: shard 0 read empty, so the transaction goes to shard 1 (no walk)
    assert alone(sale, sale._request(0, container)) == ("201", 2)
    assert container.empty == {0} and not container.sold_out
    # warm: straight to shard 1, found empty; the walk sees every shard empty and marks them
    assert alone(sale, sale._request(1, container)) == ("409 COUPON_SOLD_OUT", 3)
    assert container.empty == {0, 1} and container.sold_out
    assert all(shard.sold_out for shard in sale.shards) and sale.tally.reads == 1
    # a warm container that never saw it learns it from its transaction's cancellation
    warm = Container(knows=True)
    assert alone(sale, sale._request(2, warm)) == ("409 COUPON_SOLD_OUT (transaction)", 1)
    assert warm.sold_out


def test_one_partition_takes_at_most_1000_wcu_a_second() -> None:
    seconds = 2.0
    limits = Limits(transaction_hold=0.0)  # no conflicts: only the partition's capacity limits
    run = simulate(1_000_000, 1, 5_000, seconds, limits=limits)
    span = run["span_seconds"]  # the last retries end after the arrivals do
    ceiling = limits.partition_wcu * (span + limits.burst_seconds)
    assert run["busiest_partition_wcu_per_s"] * span <= ceiling
    # 2 WCU of the shard per issued coupon: at most 500 a second, and the cap is reached
    assert run["issued"] * limits.transaction_item_wcu <= ceiling
    assert run["issues_per_s"] <= limits.partition_wcu / limits.transaction_item_wcu * 1.05
    assert run["issues_per_s"] >= 0.9 * limits.partition_wcu / limits.transaction_item_wcu
    assert run["throttled"] > 0


def test_a_held_item_cancels_a_concurrent_transaction() -> None:
    sale = FlashSale(10, 1, 1.0, 0.0)
    sale.now = 1.0
    assert sale._transact(sale.shards[0])[0] == "ok"
    sale.now = 1.0 + sale.limits.transaction_hold / 2
    assert sale._transact(sale.shards[0])[0] == "conflict"
    sale.now = 1.0 + sale.limits.transaction_hold
    assert sale._transact(sale.shards[0])[0] == "ok"
    assert (sale.issued, sale.shards[0].remaining, sale.tally.conflicts) == (2, 8, 1)


def test_an_empty_shard_refuses_and_issues_nothing() -> None:
    sale = FlashSale(1, 1, 1.0, 0.0)
    assert sale._transact(sale.shards[0])[0] == "ok"
    sale.now = 1.0
    assert sale._transact(sale.shards[0])[0] == "empty"
    assert (sale.issued, sale.shards[0].remaining) == (1, 0)
    sale.shards[0].sold_out = True
    sale.now = 2.0
    assert sale._transact(sale.shards[0])[0] == "empty, marked"
    assert (sale.issued, sale.shards[0].remaining) == (1, 0)


def test_shards_raise_the_ceiling_of_a_hot_campaign() -> None:
    one, many = (simulate(100_000, shards, 10_000, 0.3) for shards in (1, 50))
    # cold containers read shard 0 but send their transactions to any shard: the scale-out spreads
    assert many["issues_per_s"] > 10 * one["issues_per_s"]
    assert one["exactly_n"] and many["exactly_n"]


def test_a_run_is_a_function_of_its_seed() -> None:
    assert simulate(500, 5, 3_000, 0.3, seed=1) == simulate(500, 5, 3_000, 0.3, seed=1)
    assert simulate(500, 5, 3_000, 0.3, seed=1) != simulate(500, 5, 3_000, 0.3, seed=2)
