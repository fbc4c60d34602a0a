"""POST /coupons/{couponId}/issue: a coupon for the caller, first come, first served."""

from aws_lambda_powertools.event_handler import Response, content_types

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
service = CouponService()


@app.post(
    "/coupons/<couponId>/issue",
    responses={
        201: {"description": "The issued coupon"},
        **refusals(BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, UNPROCESSABLE, UNAVAILABLE),
    },
)
def issue_coupon(couponId: CouponId, body: IssueCouponRequest) -> Response[IssuedCoupon]:
    issued = service.issue(caller(app), couponId, body.user_id)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=issued)


lambda_handler = entry_point(app, idempotent=True)
