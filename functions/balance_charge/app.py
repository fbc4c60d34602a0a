"""POST /users/{userId}/balance/charge: add to the caller's own balance, up to the limit."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends

from shop.api.http import BAD_REQUEST, CONFLICT, UNAVAILABLE, UNPROCESSABLE, UserId, create_app, entry_point, refusals
from shop.api.idempotency import IdempotencyKey, request_key
from shop.api.identity import caller
from shop.api.openapi import BALANCE, BEARER, CALLER_REFUSALS
from shop.models.balance import Balance, ChargeRequest
from shop.services.balance import BalanceService

app = create_app()


@cache
def balance_service() -> BalanceService:
    """This instance's balance service: built on its first request, kept for its life."""
    return BalanceService()


@app.post(
    "/users/<userId>/balance/charge",
    tags=[BALANCE],
    summary="Charge the caller's balance",
    description="Adds `amount` won (1 to 1,000,000) to the caller's own balance and answers the new balance. "
    "The balance never passes 10,000,000 won, whatever number of charges run at once: a charge that would pass it "
    "is `409 BALANCE_LIMIT_EXCEEDED`. Every charge is one `CHARGE` entry of the balance's history, written with it. "
    "Send an `Idempotency-Key` to retry safely; a `503 OUTCOME_UNKNOWN` (the database did not answer in time) is "
    "retried with the same key to learn the real outcome.",
    security=BEARER,
    responses={
        200: {"description": "The new balance"},
        **refusals(BAD_REQUEST, CONFLICT, UNPROCESSABLE, UNAVAILABLE),
        **CALLER_REFUSALS,
    },
)
def charge_balance(
    userId: UserId,
    body: ChargeRequest,
    service: Annotated[BalanceService, Depends(balance_service)],
    idempotency_key: IdempotencyKey = None,
) -> Balance:
    return service.charge(caller(app), userId, body.amount, request_key(app))


lambda_handler = entry_point(app, idempotent=True)
