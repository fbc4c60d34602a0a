"""Coupon campaigns, first-come-first-served issuance, and a user's coupons."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from aws_lambda_powertools.metrics import MetricUnit

from shop import clock
from shop.errors import ConcurrentUpdate, CouponNotFound, CouponSoldOut, ShardSoldOut
from shop.identity import Caller
from shop.ids import issued_coupon_id, new_id
from shop.models.coupon import Coupon, CouponShard, IssuedCoupon, IssuedCouponList, NewCoupon
from shop.observability import metrics
from shop.repositories.coupons import CouponRepository
from shop.retry import Sleep


@dataclass
class KnownCampaign:
    """What a function instance has learnt of one campaign: its data and shard count (which never
    change), the shards it has seen empty, and whether the campaign is sold out. Quantities only go
    down, so nothing here is ever unlearnt."""

    campaign: Coupon
    count: int
    empty: set[int] = field(default_factory=set)
    sold_out: bool = False

    def open_shards(self) -> list[int]:
        """The shards not seen empty yet."""
        return [index for index in range(self.count) if index not in self.empty]


class KnownCampaigns:
    """The campaigns a service has seen, kept for its life, the function instance's (at most 10,000)."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._campaigns: dict[str, KnownCampaign] = {}

    def get(self, coupon_id: str) -> KnownCampaign | None:
        return self._campaigns.get(coupon_id)

    def learn(self, coupon_id: str, shard: CouponShard) -> KnownCampaign:
        if len(self._campaigns) >= self.LIMIT:
            self._campaigns.clear()
        known = KnownCampaign(campaign=shard.campaign, count=shard.count, sold_out=shard.answers_sold_out)
        if shard.remaining_quantity <= 0:
            known.empty.add(shard.index)
        self._campaigns[coupon_id] = known
        return known

    def forget(self, coupon_id: str) -> None:
        self._campaigns.pop(coupon_id, None)

    def clear(self) -> None:
        self._campaigns.clear()


class CouponService:
    """`known` is what the service has learnt of campaigns (its own, new by default: a function
    keeps one service per instance); `now` tells the time, `sleep` makes the pauses between
    attempts (given to the default repository)."""

    def __init__(
        self,
        coupons: CouponRepository | None = None,
        *,
        rng: random.Random | None = None,
        known: KnownCampaigns | None = None,
        now: clock.Clock = clock.now,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._coupons = coupons or CouponRepository(sleep=sleep)
        self._random = rng or random.Random()
        self._known = known if known is not None else KnownCampaigns()
        self._now = now

    def create(self, caller: Caller, new: NewCoupon) -> Coupon:
        caller.administers()
        coupon = Coupon(
            coupon_id=new_id(),
            name=new.name,
            discount=new.discount,
            total_quantity=new.total_quantity,
            remaining_quantity=new.total_quantity,
            valid_days=new.valid_days,
        )
        self._coupons.create(coupon, new.shard_count)
        return coupon

    def campaign(self, caller: Caller, coupon_id: str) -> Coupon:
        """A campaign as its administrators see it (with the quantity left)."""
        caller.administers()
        return self.coupon(coupon_id)

    def coupon(self, coupon_id: str) -> Coupon:
        coupon = self._coupons.get(coupon_id)
        if coupon is None:
            raise CouponNotFound(coupon_id)
        return coupon

    def issue(self, caller: Caller, coupon_id: str, user_id: str | None = None) -> IssuedCoupon:
        """Issue one coupon of the campaign to the caller (`user_id`, if given, must be the caller),
        if any is left and the caller has none.

        The first time an instance sees the campaign it reads shard 0 (eventually consistent, half
        an RCU): the campaign's data and shard count, which never change, and whether it is sold
        out. It reads nothing first after that: the transaction on one shard it has not seen empty,
        at random, decides, and a campaign it knows to be sold out is answered with no call. A
        shard found empty or contended sends the request to the others (one BatchGetItem, then the
        ones that still hold coupons, in random order, each at most once); when every shard is
        empty the campaign is sold out, and is marked so on every shard. The walk's read of every
        shard is eventually consistent (half the RCU): it may show a shard fuller than it is,
        never emptier, and the transactions decide.
        """
        user_id = caller.acts_for(user_id)
        try:
            issued = self._issue(coupon_id, user_id)
        except CouponSoldOut:
            metrics.add_metric(name="CouponSoldOut", unit=MetricUnit.Count, value=1)
            raise
        except CouponNotFound:
            self._known.forget(coupon_id)
            raise
        metrics.add_metric(name="CouponsIssued", unit=MetricUnit.Count, value=1)
        return issued

    def _issue(self, coupon_id: str, user_id: str) -> IssuedCoupon:
        known = self._known.get(coupon_id) or self._first_read(coupon_id)
        if known.sold_out:
            raise CouponSoldOut(coupon_id)
        issued_at = self._now()
        campaign = known.campaign
        issued = IssuedCoupon(
            issued_coupon_id=issued_coupon_id(coupon_id, user_id),
            coupon_id=coupon_id,
            user_id=user_id,
            name=campaign.name,
            discount=campaign.discount,
            status="AVAILABLE",
            issued_at=issued_at,
            expires_at=issued_at + timedelta(days=campaign.valid_days),
        )
        open_shards = known.open_shards()
        tried = set(known.empty)
        if open_shards:
            start = self._random.choice(open_shards)
            tried.add(start)
            if self._take(issued, start, known):
                return issued
        return self._walk(issued, known, tried)

    def _first_read(self, coupon_id: str) -> KnownCampaign:
        """What the instance learns of a campaign it has not seen: shard 0, eventually consistent
        (its data and shard count never change; its quantity may show fuller than it is, never
        emptier, and its sold-out mark may not show yet: the transactions decide)."""
        shard = self._coupons.shard(coupon_id, 0, consistent=False)
        if shard is None:
            raise CouponNotFound(coupon_id)
        return self._known.learn(coupon_id, shard)

    def _take(self, issued: IssuedCoupon, shard: int, known: KnownCampaign) -> bool:
        """One transaction on one shard: True once the coupon is issued, False when the shard is
        empty or stayed contended; CouponSoldOut when it shows the campaign sold out (a marked
        shard, or the only one, found empty)."""
        try:
            self._coupons.issue(issued, shard)
        except ShardSoldOut as empty:
            known.empty.add(shard)
            if empty.campaign_sold_out or known.count == 1:
                known.sold_out = True
                raise CouponSoldOut(issued.coupon_id) from empty
            return False
        except ConcurrentUpdate:
            return False
        return True

    def _walk(self, issued: IssuedCoupon, known: KnownCampaign, tried: set[int]) -> IssuedCoupon:
        """Try the shards not tried yet that hold coupons, as one read of them all shows; each
        shard is tried at most once, so this ends within `count` transactions."""
        coupon_id, count = issued.coupon_id, known.count
        while True:
            shards = self._coupons.shards(coupon_id, count, consistent=count == 1)
            known.empty.update(shard.index for shard in shards if shard.remaining_quantity <= 0)
            if all(shard.remaining_quantity <= 0 for shard in shards):
                if count > 1:
                    self._coupons.mark_sold_out(coupon_id, [s.index for s in shards if not s.sold_out])
                known.sold_out = True
                raise CouponSoldOut(coupon_id)
            open_shards = [s.index for s in shards if s.remaining_quantity > 0 and s.index not in tried]
            if not open_shards:
                # the shards that still hold coupons stayed contended through their retries
                raise ConcurrentUpdate()
            self._random.shuffle(open_shards)
            for index in open_shards:
                tried.add(index)
                if self._take(issued, index, known):
                    return issued

    def issued_to(self, caller: Caller, user_id: str) -> IssuedCouponList:
        """The user's coupons, newest first, with their status as of now: the caller's own, or any
        user's for an admin."""
        caller.reads(user_id)
        at = self._now()
        coupons = sorted(self._coupons.issued_to(user_id), key=lambda c: c.issued_at, reverse=True)
        return IssuedCouponList(items=[coupon.seen_at(at) for coupon in coupons])
