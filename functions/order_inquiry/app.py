"""GET /users/{userId}/orders and GET /orders/{orderId}: a user's paid orders."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from shop.api.access import owner_filter, require_reader
from shop.api.http import BAD_REQUEST, FORBIDDEN, NOT_FOUND, OrderId, UserId, create_app, entry_point, refusals
from shop.models.order import Order, OrderPage
from shop.services.orders import OrderService

app = create_app()
service = OrderService()


@app.get(
    "/users/<userId>/orders",
    responses={200: {"description": "One page of orders, newest first"}, **refusals(BAD_REQUEST, FORBIDDEN)},
)
def user_orders(
    userId: UserId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
) -> OrderPage:
    require_reader(app, userId)
    return service.orders_of(userId, limit, cursor)


@app.get("/orders/<orderId>", responses={200: {"description": "The order"}, **refusals(BAD_REQUEST, NOT_FOUND)})
def get_order(orderId: OrderId) -> Order:
    return service.order(orderId, owner_filter(app))


lambda_handler = entry_point(app)
