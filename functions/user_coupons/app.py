"""GET /users/{userId}/coupons: the coupons a user holds."""

from shop.api.http import BAD_REQUEST, UserId, create_app, entry_point, refusals
from shop.models.coupon import IssuedCouponList
from shop.services.coupons import CouponService

app = create_app()
service = CouponService()


@app.get("/users/<userId>/coupons", responses={200: {"description": "The user's coupons"}, **refusals(BAD_REQUEST)})
def list_user_coupons(userId: UserId) -> IssuedCouponList:
    return service.issued_to(userId)


lambda_handler = entry_point(app)
