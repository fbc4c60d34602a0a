"""Coupon campaigns, first-come-first-served issuance, and a user's coupons."""

from __future__ import annotations

from datetime import timedelta

from aws_lambda_powertools.metrics import MetricUnit

from shop import clock
from shop.errors import ConcurrentUpdate, CouponNotFound, CouponSoldOut
from shop.identity import Caller
from shop.ids import issued_coupon_id, new_id
from shop.models.coupon import Coupon, IssuedCoupon, IssuedCouponList, NewCoupon
from shop.observability import metrics
from shop.repositories.coupons import CouponRepository


class CouponService:
    def __init__(self, coupons: CouponRepository | None = None) -> None:
        self._coupons = coupons or CouponRepository()

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
        self._coupons.create(coupon)
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

        The transaction decides; the read before it only answers a campaign already sold out
        without spending a write on it.
        """
        user_id = caller.acts_for(user_id)
        campaign = self.coupon(coupon_id)
        try:
            if campaign.remaining_quantity <= 0:
                raise CouponSoldOut(coupon_id)
            issued_at = clock.now()
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
            try:
                self._coupons.issue(issued)
            except ConcurrentUpdate:
                # The campaign item stayed contended through every retry: if it is sold out by
                # now, that is the answer; otherwise the client is asked to retry.
                if self.coupon(coupon_id).remaining_quantity <= 0:
                    raise CouponSoldOut(coupon_id) from None
                raise
        except CouponSoldOut:
            metrics.add_metric(name="CouponSoldOut", unit=MetricUnit.Count, value=1)
            raise
        metrics.add_metric(name="CouponsIssued", unit=MetricUnit.Count, value=1)
        return issued

    def issued_to(self, caller: Caller, user_id: str) -> IssuedCouponList:
        """The user's coupons, newest first, with their status as of now: the caller's own, or any
        user's for an admin."""
        caller.reads(user_id)
        at = clock.now()
        coupons = sorted(self._coupons.issued_to(user_id), key=lambda c: c.issued_at, reverse=True)
        return IssuedCouponList(items=[coupon.seen_at(at) for coupon in coupons])
