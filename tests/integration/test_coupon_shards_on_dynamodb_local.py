"""Sharded coupon campaigns on DynamoDB Local: the shard walk, the sold-out mark, the exact
remaining quantity, and exactly N under races."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from shop.errors import CouponAlreadyIssued, CouponSoldOut, ShardSoldOut
from shop.identity import Caller
from shop.repositories.coupons import CouponRepository, shard_key
from shop.services.coupons import CouponService
from tests.integration.test_rules_on_dynamodb_local import campaign, issued, race


def parts(coupon_id: str, count: int) -> list[int]:
    return [shard.remaining_quantity for shard in CouponRepository().shards(coupon_id, count)]


class StartAt(random.Random):
    """A random source whose first choice of shard is always `shard` while it is open."""

    def __init__(self, shard: int) -> None:
        super().__init__(shard)
        self.shard = shard

    def choice(self, seq: Any) -> Any:
        return self.shard if self.shard in seq else seq[0]


def test_the_shards_are_items_of_their_own_and_the_campaign_reads_as_their_sum(local_db: Any) -> None:
    campaign("split", 10, 4)
    keys = {item["couponId"]["S"] for item in local_db.scan(TableName="CouponsTable")["Items"]}
    assert keys == {shard_key("split", k) for k in range(4)} == {"split", "split#1", "split#2", "split#3"}
    assert parts("split", 4) == [3, 3, 2, 2]
    CouponRepository().issue(issued("split", "a"), 2)
    coupon = CouponRepository().get("split")
    assert coupon is not None
    assert (coupon.total_quantity, coupon.remaining_quantity, coupon.name) == (10, 9, "Race")
    assert CouponRepository().get("split#2") is None


def test_the_issue_transaction_names_the_empty_shard(local_db: Any) -> None:
    campaign("names", 2, 2)
    repository = CouponRepository()
    repository.issue(issued("names", "a"), 1)
    with pytest.raises(ShardSoldOut) as refused:
        repository.issue(issued("names", "b"), 1)
    assert refused.value.shard == 1
    with pytest.raises(CouponAlreadyIssued):
        repository.issue(issued("names", "a"), 0)
    assert parts("names", 2) == [1, 0]


def test_a_request_on_an_empty_shard_walks_to_the_others_then_marks_the_campaign_sold_out(local_db: Any) -> None:
    campaign("walk", 3, 3)
    CouponRepository().issue(issued("walk", "first"), 1)
    service = CouponService(rng=StartAt(1))
    for user in ("a", "b"):  # "a" reads shard 0, tries the empty shard 1 and walks; "b" skips shard 1
        assert service.issue(Caller(user), "walk").coupon_id == "walk"
    assert parts("walk", 3) == [0, 0, 0]
    with pytest.raises(CouponSoldOut):
        service.issue(Caller("late"), "walk")
    sold_out = [shard.sold_out for shard in CouponRepository().shards("walk", 3)]
    assert sold_out == [True, True, True]
    assert CouponService().coupon("walk").remaining_quantity == 0


def test_a_shard_that_still_holds_coupons_is_never_marked(local_db: Any) -> None:
    campaign("mark", 2, 2)
    CouponRepository().issue(issued("mark", "a"), 0)
    CouponRepository().mark_sold_out("mark", [0, 1])
    assert [shard.sold_out for shard in CouponRepository().shards("mark", 2)] == [False, False]
    assert CouponService().issue(Caller("b"), "mark").user_id == "b"


def test_users_racing_for_a_sharded_campaign_get_exactly_its_quantity(local_db: Any) -> None:
    campaign("race", 60, 8)
    service = CouponService(rng=random.Random(15))
    outcomes = race([lambda n=n: service.issue(Caller(f"user-{n}"), "race") for n in range(200)], workers=32)
    assert outcomes == Counter({"ok": 60, "CouponSoldOut": 140})
    assert outcomes.most_in_flight >= 16, outcomes.most_in_flight
    assert parts("race", 8) == [0] * 8
    holders = [n for n in range(200) if CouponRepository().issued_to(f"user-{n}")]
    assert len(holders) == 60
    assert CouponService().coupon("race").remaining_quantity == 0


def test_one_user_racing_across_shards_gets_one_coupon(local_db: Any) -> None:
    campaign("greedy", 40, 8)
    services = [CouponService(rng=StartAt(k)) for k in range(8)]
    for k, service in enumerate(services):
        service.issue(Caller(f"primer-{k}"), "greedy")  # now the count is known, and each starts at its own shard
    outcomes = race([lambda s=s: s.issue(Caller("me"), "greedy") for s in services * 3], workers=24)
    assert outcomes == Counter({"ok": 1, "CouponAlreadyIssued": 23})
    assert outcomes.most_in_flight >= 12, outcomes.most_in_flight
    assert sum(parts("greedy", 8)) == 40 - 8 - 1
    assert len(CouponRepository().issued_to("me")) == 1
