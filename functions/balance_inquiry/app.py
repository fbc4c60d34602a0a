"""GET /users/{userId}/balance: a user's balance (the caller's own; any user's for an admin)."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends

from shop.api.http import BAD_REQUEST, UserId, create_app, entry_point, refusals
from shop.api.identity import caller
from shop.api.openapi import BALANCE, BEARER, CALLER_REFUSALS
from shop.models.balance import Balance
from shop.services.balance import BalanceService

app = create_app()


@cache
def balance_service() -> BalanceService:
    """This instance's balance service: built on its first request, kept for its life."""
    return BalanceService()


@app.get(
    "/users/<userId>/balance",
    tags=[BALANCE],
    summary="Read a user's balance",
    description="A user's balance in won; a user never charged has a balance of 0. The caller's own; an admin "
    "may read any user's.",
    security=BEARER,
    responses={200: {"description": "The balance"}, **refusals(BAD_REQUEST), **CALLER_REFUSALS},
)
def get_balance(userId: UserId, service: Annotated[BalanceService, Depends(balance_service)]) -> Balance:
    return service.balance(caller(app), userId)


lambda_handler = entry_point(app)
