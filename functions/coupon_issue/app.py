"""POST /coupons/{couponId}/issue: a coupon for the caller, first come, first served."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response, content_types

from shop.api.http import (
    BAD_REQUEST,
    CONFLICT,
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHORIZED,
    UNAVAILABLE,
    UNPROCESSABLE,
    CouponId,
    create_app,
    entry_point,
    refusals,
)
from shop.api.identity import caller
from shop.models.coupon import IssueCouponRequest, IssuedCoupon
from shop.services.coupons import CouponService

app = create_app()


@cache
def coupon_service() -> CouponService:
    """This instance's coupon service: built on its first request, kept for its life."""
    return CouponService()


@app.post(
    "/coupons/<couponId>/issue",
    responses={
        201: {"description": "The issued coupon"},
        **refusals(BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, UNPROCESSABLE, UNAVAILABLE),
    },
)
def issue_coupon(
    couponId: CouponId, body: IssueCouponRequest, service: Annotated[CouponService, Depends(coupon_service)]
) -> Response[IssuedCoupon]:
    issued = service.issue(caller(app), couponId, body.user_id)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=issued)


lambda_handler = entry_point(app, idempotent=True)
