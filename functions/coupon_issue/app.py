"""POST /coupons/{couponId}/issue: first come, first served."""

from aws_lambda_powertools.event_handler import Response, content_types

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
from shop.models.coupon import IssueCouponRequest, IssuedCoupon
from shop.services.coupons import CouponService

app = create_app()
service = CouponService()


@app.post(
    "/coupons/<couponId>/issue",
    responses={
        201: {"description": "The issued coupon"},
        **refusals(BAD_REQUEST, NOT_FOUND, CONFLICT, UNPROCESSABLE, UNAVAILABLE),
    },
)
def issue_coupon(couponId: CouponId, body: IssueCouponRequest) -> Response[IssuedCoupon]:
    return Response(
        status_code=201, content_type=content_types.APPLICATION_JSON, body=service.issue(couponId, body.user_id)
    )


lambda_handler = entry_point(app, idempotent=True)
