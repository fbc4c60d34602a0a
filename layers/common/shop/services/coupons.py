"""Coupon campaigns, first-come-first-served issuance, and a user's coupons."""

from __future__ import annotations

import random
from datetime import timedelta
from enum import Enum

from aws_lambda_powertools.metrics import MetricUnit

from shop import clock
from shop.errors import ConcurrentUpdate, CouponNotFound, CouponSoldOut
from shop.identity import Caller
from shop.ids import issued_coupon_id, new_id
from shop.models.coupon import Coupon, CouponShard, IssuedCoupon, IssuedCouponList, NewCoupon
from shop.observability import metrics
from shop.repositories.coupons import CouponRepository, ShardSoldOut

# Shard counts of the campaigns this container has seen (a campaign's count never changes).
_KNOWN_CAMPAIGNS = 10_000


class _Take(Enum):
    ISSUED = "issued"
    EMPTY = "empty"
    CONTENDED = "contended"


class CouponService:
    def __init__(self, coupons: CouponRepository | None = None, *, rng: random.Random | None = None) -> None:
        self._coupons = coupons or CouponRepository()
        self._random = rng or random.Random()
        self._shard_counts: dict[str, int] = {}

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

        One shard is read (chosen at random once the campaign's shard count is known, shard 0
        before): it answers a campaign already sold out without a write, and holds the campaign's
        data. The transaction on that shard decides. A shard found empty or contended sends the
        request to the others (one BatchGetItem, then the ones that still hold coupons, in random
        order, each at most once); when every shard is empty the campaign is sold out, and is
        marked so on every shard. The walk's read of every shard is eventually consistent (half the
        RCU): it may show a shard fuller than it is, never emptier, and the transactions decide.
        """
        user_id = caller.acts_for(user_id)
        try:
            issued = self._issue(coupon_id, user_id)
        except CouponSoldOut:
            metrics.add_metric(name="CouponSoldOut", unit=MetricUnit.Count, value=1)
            raise
        metrics.add_metric(name="CouponsIssued", unit=MetricUnit.Count, value=1)
        return issued

    def _issue(self, coupon_id: str, user_id: str) -> IssuedCoupon:
        first = self._first_shard(coupon_id)
        if first.answers_sold_out:
            raise CouponSoldOut(coupon_id)
        issued_at = clock.now()
        campaign = first.campaign
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
        tried = {first.index}
        if first.remaining_quantity > 0:
            taken = self._take(issued, first.index)
            if taken is _Take.ISSUED:
                return issued
            if taken is _Take.EMPTY and first.count == 1:
                raise CouponSoldOut(coupon_id)
        return self._walk(issued, first.count, tried)

    def _first_shard(self, coupon_id: str) -> CouponShard:
        known = self._shard_counts.get(coupon_id)
        start = self._random.randrange(known) if known else 0
        shard = self._coupons.shard(coupon_id, start)
        if shard is None and start != 0:
            shard = self._coupons.shard(coupon_id, 0)
        if shard is None:
            self._shard_counts.pop(coupon_id, None)
            raise CouponNotFound(coupon_id)
        if len(self._shard_counts) >= _KNOWN_CAMPAIGNS:
            self._shard_counts.clear()
        self._shard_counts[coupon_id] = shard.count
        return shard

    def _take(self, issued: IssuedCoupon, shard: int) -> _Take:
        try:
            self._coupons.issue(issued, shard)
        except ShardSoldOut:
            return _Take.EMPTY
        except ConcurrentUpdate:
            return _Take.CONTENDED
        return _Take.ISSUED

    def _walk(self, issued: IssuedCoupon, count: int, tried: set[int]) -> IssuedCoupon:
        """Try the shards not tried yet that hold coupons, as one read of them all shows; each
        shard is tried at most once, so this ends within `count` transactions."""
        coupon_id = issued.coupon_id
        while True:
            shards = self._coupons.shards(coupon_id, count, consistent=count == 1)
            if all(shard.remaining_quantity <= 0 for shard in shards):
                if count > 1:
                    self._coupons.mark_sold_out(coupon_id, [s.index for s in shards if not s.sold_out])
                raise CouponSoldOut(coupon_id)
            open_shards = [s.index for s in shards if s.remaining_quantity > 0 and s.index not in tried]
            if not open_shards:
                # the shards that still hold coupons stayed contended through their retries
                raise ConcurrentUpdate()
            self._random.shuffle(open_shards)
            for index in open_shards:
                tried.add(index)
                if self._take(issued, index) is _Take.ISSUED:
                    return issued

    def issued_to(self, caller: Caller, user_id: str) -> IssuedCouponList:
        """The user's coupons, newest first, with their status as of now: the caller's own, or any
        user's for an admin."""
        caller.reads(user_id)
        at = clock.now()
        coupons = sorted(self._coupons.issued_to(user_id), key=lambda c: c.issued_at, reverse=True)
        return IssuedCouponList(items=[coupon.seen_at(at) for coupon in coupons])
