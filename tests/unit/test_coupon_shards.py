"""Campaigns split across shards: how many, exactly N issued, the walk, the sold-out mark, the cost."""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from typing import Any

import pytest

from shop.errors import ConcurrentUpdate, CouponAlreadyIssued, CouponSoldOut
from shop.identity import Caller
from shop.models.coupon import (
    DEFAULT_MAX_SHARDS,
    Coupon,
    CouponShard,
    FixedDiscount,
    IssuedCoupon,
    default_shards,
    split,
)
from shop.repositories.coupons import CouponRepository, shard_key
from shop.services.coupons import CouponService, KnownCampaigns

ADMIN = "CatalogueAdminFunction"
ISSUE = "CouponIssueFunction"


def create(api: Any, quantity: int, shards: int | None = None) -> str:
    body: dict[str, Any] = {
        "name": "Flash",
        "discount": {"type": "FIXED", "amount": 1_000},
        "totalQuantity": quantity,
        "validDays": 3,
    }
    if shards is not None:
        body["shards"] = shards
    status, coupon = api.call(ADMIN, "POST", "/coupons", body, caller="admin", admin=True)
    assert status == 201, coupon
    assert coupon["remainingQuantity"] == quantity
    assert "shards" not in coupon
    return str(coupon["couponId"])


def stored(aws: Any, coupon_id: str) -> list[dict[str, Any]]:
    """The campaign's shard items as stored, in shard order."""
    items = [
        item
        for page in aws.get_paginator("scan").paginate(TableName="CouponsTable")
        for item in page["Items"]
        if item["couponId"]["S"] == coupon_id or item["couponId"]["S"].startswith(coupon_id + "#")
    ]
    return sorted(items, key=lambda item: int(item.get("shard", {"N": "0"})["N"]))


def remaining(api: Any, coupon_id: str) -> int:
    status, coupon = api.call(ADMIN, "GET", f"/coupons/{coupon_id}", caller="admin", admin=True)
    assert status == 200, coupon
    return int(coupon["remainingQuantity"])


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(1, 1), (100, 1), (101, 2), (1_000, 10), (6_400, 64), (10_000, 100), (100_000_000, 100)],
)
def test_the_default_shard_count_grows_with_the_quantity_up_to_its_cap(quantity: int, expected: int) -> None:
    assert default_shards(quantity) == expected
    assert expected <= DEFAULT_MAX_SHARDS


@pytest.mark.parametrize(("quantity", "shards"), [(10, 4), (100_000, 100), (7, 7), (5, 1)])
def test_a_quantity_is_split_evenly_and_wholly(quantity: int, shards: int) -> None:
    parts = split(quantity, shards)
    assert sum(parts) == quantity
    assert len(parts) == shards
    assert max(parts) - min(parts) <= 1
    assert min(parts) >= 1


def test_more_shards_than_coupons_makes_one_shard_per_coupon(api: Any, aws: Any) -> None:
    body = {"name": "X", "discount": {"type": "FIXED", "amount": 1}, "totalQuantity": 3, "validDays": 1}
    status, answer = api.call(ADMIN, "POST", "/coupons", {**body, "shards": 99}, caller="admin", admin=True)
    assert status == 201, answer
    items = stored(aws, answer["couponId"])
    assert [int(item["remainingQuantity"]["N"]) for item in items] == [1, 1, 1]


def test_a_small_campaign_is_one_item_as_before(api: Any, aws: Any) -> None:
    coupon_id = create(api, 100)
    items = stored(aws, coupon_id)
    assert len(items) == 1
    assert "shards" not in items[0]
    assert items[0]["remainingQuantity"] == {"N": "100"}


def test_a_large_campaign_gets_the_default_shards_each_on_its_own_key(api: Any, aws: Any) -> None:
    coupon_id = create(api, 100_000)
    items = stored(aws, coupon_id)
    assert [item["couponId"]["S"] for item in items] == [shard_key(coupon_id, i) for i in range(100)]
    assert sum(int(item["remainingQuantity"]["N"]) for item in items) == 100_000
    assert {item["name"]["S"] for item in items} == {"Flash"}
    assert {item["shards"]["N"] for item in items} == {"100"}
    assert remaining(api, coupon_id) == 100_000


@pytest.mark.parametrize(("quantity", "shards"), [(10, 0), (1_000, 101), (10, "4"), (10, 2.5), (10, True)])
def test_a_shard_count_out_of_range_is_refused_and_creates_nothing(
    api: Any, aws: Any, quantity: int, shards: Any
) -> None:
    body = {"name": "X", "discount": {"type": "FIXED", "amount": 1}, "totalQuantity": quantity, "validDays": 1}
    status, answer = api.call(ADMIN, "POST", "/coupons", {**body, "shards": shards}, caller="admin", admin=True)
    assert (status, answer["code"]) == (400, "INVALID_REQUEST")
    assert aws.scan(TableName="CouponsTable")["Count"] == 0


def test_a_sharded_campaign_issues_exactly_its_quantity_then_is_sold_out(api: Any, aws: Any) -> None:
    coupon_id = create(api, 10, shards=4)
    codes = Counter()
    for n in range(14):
        status, body = api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": f"u{n}"}, caller=f"u{n}")
        codes[str(status) if status == 201 else body["code"]] += 1
        assert remaining(api, coupon_id) == max(0, 10 - n - 1)
    assert codes == Counter({"201": 10, "COUPON_SOLD_OUT": 4})
    items = stored(aws, coupon_id)
    assert [item["remainingQuantity"] for item in items] == [{"N": "0"}] * 4
    assert [item.get("soldOut") for item in items] == [{"BOOL": True}] * 4
    holders = [item for item in aws.scan(TableName="IssuedCouponsTable")["Items"] if item["couponId"]["S"] == coupon_id]
    assert len(holders) == 10


class Recording(CouponRepository):
    """The repository, recording the calls the services make of it by name (each is one
    DynamoDB call), and the shard each issue tried."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[str] = []
        self.tried: list[int] = []

    def shard(self, coupon_id: str, index: int, *, consistent: bool = True) -> CouponShard | None:
        self.made.append("shard")
        return super().shard(coupon_id, index, consistent=consistent)

    def shards(self, coupon_id: str, count: int, *, consistent: bool = True) -> list[CouponShard]:
        self.made.append("shards")
        return super().shards(coupon_id, count, consistent=consistent)

    def issue(self, coupon: IssuedCoupon, shard: int = 0) -> None:
        self.made.append("issue")
        self.tried.append(shard)
        super().issue(coupon, shard)

    def mark_sold_out(self, coupon_id: str, indices: list[int]) -> None:
        self.made.append("mark_sold_out")
        super().mark_sold_out(coupon_id, indices)

    def get(self, coupon_id: str) -> Coupon | None:
        self.made.append("get")
        return super().get(coupon_id)


class Contended(Recording):
    """Every issue on one of `shards` (all of them by default) stays contended through its retries."""

    def __init__(self, shards: set[int] | None = None) -> None:
        super().__init__()
        self.contended = shards

    def issue(self, coupon: IssuedCoupon, shard: int = 0) -> None:
        if self.contended is None or shard in self.contended:
            self.tried.append(shard)
            raise ConcurrentUpdate()
        super().issue(coupon, shard)


class Always(random.Random):
    """A random source that always starts at the same shard while it is open (and shuffles as a
    seeded one)."""

    def __init__(self, shard: int) -> None:
        super().__init__(7)
        self.shard = shard

    def choice(self, seq: Any) -> Any:
        return self.shard if self.shard in seq else seq[0]


def campaign(coupon_id: str, quantity: int, shards: int) -> None:
    CouponRepository().create(
        Coupon(
            coupon_id=coupon_id,
            name="Flash",
            discount=FixedDiscount(type="FIXED", amount=500),
            total_quantity=quantity,
            remaining_quantity=quantity,
            valid_days=3,
        ),
        shards,
    )


def test_one_shard_is_read_once_per_instance_then_each_issue_is_one_transaction_and_sold_out_is_learnt(
    aws: Any,
) -> None:
    campaign("single", 2, 1)
    calls = Recording()
    service = CouponService(calls, known=KnownCampaigns())
    service.issue(Caller("a"), "single")
    assert calls.made == ["shard", "issue"]  # an instance new to the campaign reads it first
    calls.made.clear()
    service.issue(Caller("b"), "single")
    assert calls.made == ["issue"]  # then the transaction alone
    calls.made.clear()
    with pytest.raises(CouponSoldOut):
        service.issue(Caller("c"), "single")
    assert calls.made == ["issue"]  # refused by the transaction: the instance learns it is sold out
    calls.made.clear()
    with pytest.raises(CouponSoldOut):
        service.issue(Caller("d"), "single")
    assert calls.made == []
    with pytest.raises(CouponSoldOut):
        CouponService(calls, known=KnownCampaigns()).issue(Caller("e"), "single")
    assert calls.made == ["shard"]  # another instance: its one read answers
    assert CouponService().coupon("single").remaining_quantity == 0


def test_a_request_whose_shard_is_empty_walks_to_one_that_is_not(aws: Any) -> None:
    campaign("walk", 4, 4)
    known = KnownCampaigns()
    calls = Recording()
    service = CouponService(calls, rng=Always(0), known=known)
    service.issue(Caller("a"), "walk")  # shard 0, read first while the campaign is new to the instance
    assert calls.made == ["shard", "issue"]
    calls.made.clear()
    service.issue(Caller("b"), "walk")  # shard 0 is empty now: one read of all, then a shard that holds one
    assert calls.made == ["issue", "shards", "issue"]
    state = known.get("walk")
    assert state is not None and 0 in state.empty
    calls.made.clear()
    for user in ("c", "d"):
        service.issue(Caller(user), "walk")
    assert calls.made.count("issue") >= 2
    assert [s.remaining_quantity for s in CouponRepository().shards("walk", 4)] == [0, 0, 0, 0]
    calls.made.clear()
    with pytest.raises(CouponSoldOut):
        service.issue(Caller("e"), "walk")
    assert calls.made[-2:] == ["shards", "mark_sold_out"]
    assert calls.made.count("issue") <= 1  # only a shard not yet seen empty is tried
    assert state.sold_out and state.empty == {0, 1, 2, 3}
    calls.made.clear()
    with pytest.raises(CouponSoldOut):
        service.issue(Caller("f"), "walk")
    assert calls.made == []  # known sold out: no call
    later = CouponService(calls, rng=Always(3), known=KnownCampaigns())
    for user in ("g", "h"):  # a new instance: one read of shard 0, marked; then nothing
        with pytest.raises(CouponSoldOut):
            later.issue(Caller(user), "walk")
    assert calls.made == ["shard"]


def test_an_instance_never_tries_first_a_shard_it_has_seen_empty(aws: Any) -> None:
    campaign("skip", 6, 3)  # 2 coupons a shard
    known = KnownCampaigns()
    coupons = Recording()
    service = CouponService(coupons, rng=random.Random(5), known=known)
    tried = coupons.tried
    seen_empty_before: list[set[int]] = []
    first_tried: list[int] = []
    for user in range(7):
        state = known.get("skip")
        seen_empty_before.append(set(state.empty) if state else set())
        tried.clear()
        with contextlib.suppress(CouponSoldOut):
            service.issue(Caller(f"u{user}"), "skip")
        first_tried.append(tried[0] if tried else -1)
    for before, first in zip(seen_empty_before, first_tried, strict=True):
        assert first not in before
    state = known.get("skip")
    assert state is not None and state.sold_out and state.empty == {0, 1, 2}
    assert CouponService().coupon("skip").remaining_quantity == 0


def test_a_marked_shard_refusing_a_transaction_answers_sold_out_without_a_walk(aws: Any) -> None:
    campaign("marked", 2, 2)
    calls = Recording()
    first = CouponService(rng=Always(0), known=KnownCampaigns())
    second = CouponService(calls, rng=Always(1), known=KnownCampaigns())
    second.issue(Caller("warm"), "marked")  # learns the campaign (shard 0 read), takes shard 0
    first.issue(Caller("a"), "marked")  # reads shard 0 empty, walks to shard 1
    with pytest.raises(CouponSoldOut):
        first.issue(Caller("b"), "marked")  # shard 1 refuses; the walk sees both empty and marks them
    calls.made.clear()
    with pytest.raises(CouponSoldOut):
        second.issue(Caller("d"), "marked")  # shard 1, not seen empty by this instance: refused, marked
    assert calls.made == ["issue"]


def test_a_walk_tries_each_shard_at_most_once(aws: Any) -> None:
    campaign("bounded", 8, 8)
    coupons = Contended()
    with pytest.raises(ConcurrentUpdate):
        CouponService(coupons, rng=random.Random(3)).issue(Caller("a"), "bounded")
    assert sorted(coupons.tried) == list(range(8))
    assert sum(s.remaining_quantity for s in CouponRepository().shards("bounded", 8)) == 8


def test_a_contended_shard_sends_the_request_to_another(aws: Any) -> None:
    campaign("busy", 8, 4)
    issued = CouponService(Contended(shards={0}), rng=Always(0)).issue(Caller("a"), "busy")
    assert issued.user_id == "a"
    parts = [s.remaining_quantity for s in CouponRepository().shards("busy", 4)]
    assert parts[0] == 2
    assert sum(parts) == 7


def test_a_user_holds_one_coupon_whichever_shard_they_reach(aws: Any) -> None:
    campaign("once", 8, 4)
    CouponService(rng=Always(1)).issue(Caller("u"), "once")
    for start in range(4):
        with pytest.raises(CouponAlreadyIssued):
            CouponService(rng=Always(start)).issue(Caller("u"), "once")
    assert CouponService().coupon("once").remaining_quantity == 7


def test_a_shard_key_is_never_read_as_a_campaign(aws: Any) -> None:
    campaign("whole", 4, 2)
    assert CouponRepository().get("whole#1") is None
    assert CouponRepository().shard("whole#1", 0) is None
    assert CouponRepository().get("whole") is not None


def test_a_shard_count_written_with_a_fraction_is_an_integer(api: Any, aws: Any) -> None:
    body = {"name": "X", "discount": {"type": "FIXED", "amount": 1}, "totalQuantity": 10.0, "validDays": 1}
    status, answer = api.call(ADMIN, "POST", "/coupons", {**body, "shards": 4.0}, caller="admin", admin=True)
    assert status == 201, answer
    assert len(stored(aws, answer["couponId"])) == 4
