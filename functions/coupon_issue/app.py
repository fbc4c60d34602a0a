"""POST /coupons/{couponId}/issue: a coupon for the caller, first come, first served."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response, content_types

from shop.api.http import (
    BAD_REQUEST,
    CONFLICT,
    NOT_FOUND,
    UNAVAILABLE,
    UNPROCESSABLE,
    CouponId,
    create_app,
    entry_point,
    refusals,
)
from shop.api.idempotency import IdempotencyKey
from shop.api.identity import caller
from shop.api.openapi import BEARER, CALLER_REFUSALS, COUPONS
from shop.models.coupon import IssueCouponRequest, IssuedCoupon
from shop.services.coupons import CouponService

app = create_app()


@cache
def coupon_service() -> CouponService:
    """This instance's coupon service: built on its first request, kept for its life."""
    return CouponService()


@app.post(
    "/coupons/<couponId>/issue",
    tags=[COUPONS],
    summary="Take a coupon of a campaign",
    description="Issues the caller a coupon of the campaign, first come, first served: with N coupons left and "
    "more than N requests racing, exactly N are issued and the others are `409 COUPON_SOLD_OUT`. A user holds at "
    "most one coupon of a campaign (`409 COUPON_ALREADY_ISSUED`); a campaign that does not exist is "
    "`404 COUPON_NOT_FOUND`. `userId` may be left out: it is the caller; nobody takes a coupon for another user. "
    "Send an `Idempotency-Key` to retry safely.",
    security=BEARER,
    responses={
        201: {"description": "The issued coupon"},
        **refusals(BAD_REQUEST, NOT_FOUND, CONFLICT, UNPROCESSABLE, UNAVAILABLE),
        **CALLER_REFUSALS,
    },
)
def issue_coupon(
    couponId: CouponId,
    body: IssueCouponRequest,
    service: Annotated[CouponService, Depends(coupon_service)],
    idempotency_key: IdempotencyKey = None,
) -> Response[IssuedCoupon]:
    issued = service.issue(caller(app), couponId, body.user_id)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=issued)


lambda_handler = entry_point(app, idempotent=True)
