"""The flash-sale simulation's own accounting (bench/flashsale.py): it must be right before its
figures mean anything."""

from __future__ import annotations

from bench.flashsale import FlashSale, Limits, simulate


def test_a_sold_out_campaign_issues_exactly_its_quantity_and_answers_every_request() -> None:
    run = simulate(50, 4, 5_000, 0.5)
    assert run["issued"] == 50
    assert run["remaining"] == 0
    assert run["exactly_n"] and run["one_per_user"]
    assert sum(run["outcomes"].values()) == run["requests"]
    assert run["outcomes"]["201"] == 50
    assert run["requests"] > 1_000


def test_once_marked_sold_out_a_request_is_answered_by_one_read() -> None:
    run = simulate(20, 4, 2_000, 1.0)
    assert run["marks"] >= 1
    assert run["outcomes"]["409 COUPON_SOLD_OUT (one read)"] > run["requests"] / 2


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


def test_shards_raise_the_ceiling_of_a_hot_campaign() -> None:
    one, many = (simulate(100_000, shards, 10_000, 0.3) for shards in (1, 50))
    assert many["issues_per_s"] > 10 * one["issues_per_s"]
    assert one["exactly_n"] and many["exactly_n"]


def test_a_run_is_a_function_of_its_seed() -> None:
    assert simulate(500, 5, 3_000, 0.3, seed=1) == simulate(500, 5, 3_000, 0.3, seed=1)
    assert simulate(500, 5, 3_000, 0.3, seed=1) != simulate(500, 5, 3_000, 0.3, seed=2)
