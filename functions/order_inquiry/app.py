"""GET /users/{userId}/orders and GET /orders/{orderId}: a user's paid orders."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends

from shop.api.http import (
    BAD_REQUEST,
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHORIZED,
    Limit,
    OrderId,
    PageCursor,
    UserId,
    create_app,
    entry_point,
    refusals,
)
from shop.api.identity import caller
from shop.models.order import Order, OrderPage
from shop.services.orders import OrderService

app = create_app()


@cache
def order_service() -> OrderService:
    """This instance's order service: built on its first request, kept for its life."""
    return OrderService()


@app.get(
    "/users/<userId>/orders",
    responses={
        200: {"description": "One page of orders, newest first"},
        **refusals(BAD_REQUEST, UNAUTHORIZED, FORBIDDEN),
    },
)
def user_orders(
    userId: UserId,
    service: Annotated[OrderService, Depends(order_service)],
    limit: Limit = 20,
    cursor: PageCursor = None,
) -> OrderPage:
    return service.orders_of(caller(app), userId, limit, cursor)


@app.get(
    "/orders/<orderId>",
    responses={200: {"description": "The order"}, **refusals(BAD_REQUEST, UNAUTHORIZED, NOT_FOUND)},
)
def get_order(orderId: OrderId, service: Annotated[OrderService, Depends(order_service)]) -> Order:
    return service.order(caller(app), orderId)


lambda_handler = entry_point(app)
