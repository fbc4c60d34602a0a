"""GET /users/{userId}/coupons: the coupons a user holds (the caller's own; any user's for an admin)."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends

from shop.api.http import BAD_REQUEST, UserId, create_app, entry_point, refusals
from shop.api.identity import caller
from shop.api.openapi import BEARER, CALLER_REFUSALS, COUPONS
from shop.models.coupon import IssuedCouponList
from shop.services.coupons import CouponService

app = create_app()


@cache
def coupon_service() -> CouponService:
    """This instance's coupon service: built on its first request, kept for its life."""
    return CouponService()


@app.get(
    "/users/<userId>/coupons",
    tags=[COUPONS],
    summary="List a user's coupons",
    description="The coupons a user holds, each `AVAILABLE`, `USED` or `EXPIRED` (an unused coupon past its "
    "`expiresAt`). The caller's own; an admin may read any user's.",
    security=BEARER,
    responses={200: {"description": "The user's coupons"}, **refusals(BAD_REQUEST), **CALLER_REFUSALS},
)
def list_user_coupons(userId: UserId, service: Annotated[CouponService, Depends(coupon_service)]) -> IssuedCouponList:
    return service.issued_to(caller(app), userId)


lambda_handler = entry_point(app)
