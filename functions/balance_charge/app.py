"""POST /users/{userId}/balance/charge: add to the caller's own balance, up to the limit."""

from shop.api.http import (
    BAD_REQUEST,
    CONFLICT,
    FORBIDDEN,
    UNAUTHORIZED,
    UNAVAILABLE,
    UNPROCESSABLE,
    UserId,
    create_app,
    entry_point,
    refusals,
)
from shop.api.idempotency import request_key
from shop.api.identity import caller
from shop.models.balance import Balance, ChargeRequest
from shop.services.balance import BalanceService

app = create_app()
service = BalanceService()


@app.post(
    "/users/<userId>/balance/charge",
    responses={
        200: {"description": "The new balance"},
        **refusals(BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, CONFLICT, UNPROCESSABLE, UNAVAILABLE),
    },
)
def charge_balance(userId: UserId, body: ChargeRequest) -> Balance:
    return service.charge(caller(app), userId, body.amount, request_key(app))


lambda_handler = entry_point(app, idempotent=True)
