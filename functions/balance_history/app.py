"""GET /users/{userId}/balance/history: the ledger of a user's balance, newest first."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from shop.api.access import require_reader
from shop.api.http import BAD_REQUEST, FORBIDDEN, UserId, create_app, entry_point, refusals
from shop.models.ledger import EntryPage
from shop.services.balance import BalanceService

app = create_app()
service = BalanceService()


@app.get(
    "/users/<userId>/balance/history",
    responses={200: {"description": "One page of entries, newest first"}, **refusals(BAD_REQUEST, FORBIDDEN)},
)
def balance_history(
    userId: UserId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
) -> EntryPage:
    require_reader(app, userId)
    return service.history(userId, limit, cursor)


lambda_handler = entry_point(app)
