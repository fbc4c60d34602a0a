"""GET /users/{userId}/balance/history: the ledger of a user's balance, newest first."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends

from shop.api.http import BAD_REQUEST, Limit, PageCursor, UserId, create_app, entry_point, refusals
from shop.api.identity import caller
from shop.api.openapi import BALANCE, BEARER, CALLER_REFUSALS
from shop.models.ledger import EntryPage
from shop.services.balance import BalanceService

app = create_app()


@cache
def balance_service() -> BalanceService:
    """This instance's balance service: built on its first request, kept for its life."""
    return BalanceService()


@app.get(
    "/users/<userId>/balance/history",
    tags=[BALANCE],
    summary="List a user's balance history",
    description="The ledger of a user's balance, newest first, one page at a time: one `CHARGE` entry per "
    "committed charge and one `PAYMENT` entry (with its `orderId`) per paid order, each written in the same "
    "atomic change as the balance, so the charges minus the payments always equal the balance. The caller's own; "
    "an admin may read any user's. Pass the page's `nextCursor` as `cursor` for the next page (null: the last).",
    security=BEARER,
    responses={
        200: {"description": "One page of entries, newest first"},
        **refusals(BAD_REQUEST),
        **CALLER_REFUSALS,
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
