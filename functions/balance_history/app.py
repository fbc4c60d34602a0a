"""GET /users/{userId}/balance/history: the ledger of a user's balance, newest first."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends

from shop.api.http import (
    BAD_REQUEST,
    FORBIDDEN,
    UNAUTHORIZED,
    Limit,
    PageCursor,
    UserId,
    create_app,
    entry_point,
    refusals,
)
from shop.api.identity import caller
from shop.models.ledger import EntryPage
from shop.services.balance import BalanceService

app = create_app()


@cache
def balance_service() -> BalanceService:
    """This instance's balance service: built on its first request, kept for its life."""
    return BalanceService()


@app.get(
    "/users/<userId>/balance/history",
    responses={
        200: {"description": "One page of entries, newest first"},
        **refusals(BAD_REQUEST, UNAUTHORIZED, FORBIDDEN),
    },
)
def balance_history(
    userId: UserId,
    service: Annotated[BalanceService, Depends(balance_service)],
    limit: Limit = 20,
    cursor: PageCursor = None,
) -> EntryPage:
    return service.history(caller(app), userId, limit, cursor)


lambda_handler = entry_point(app)
