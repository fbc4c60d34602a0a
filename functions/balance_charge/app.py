"""POST /users/{userId}/balance/charge: add to the caller's own balance, up to the limit."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends

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


@cache
def balance_service() -> BalanceService:
    """This instance's balance service: built on its first request, kept for its life."""
    return BalanceService()


@app.post(
    "/users/<userId>/balance/charge",
    responses={
        200: {"description": "The new balance"},
        **refusals(BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, CONFLICT, UNPROCESSABLE, UNAVAILABLE),
    },
)
def charge_balance(
    userId: UserId, body: ChargeRequest, service: Annotated[BalanceService, Depends(balance_service)]
) -> Balance:
    return service.charge(caller(app), userId, body.amount, request_key(app))


lambda_handler = entry_point(app, idempotent=True)
