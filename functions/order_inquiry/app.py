"""GET /users/{userId}/orders and GET /orders/{orderId}: a user's paid orders."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends

from shop.api.http import (
    BAD_REQUEST,
    NOT_FOUND,
    Limit,
    OrderId,
    PageCursor,
    UserId,
    create_app,
    entry_point,
    refusals,
)
from shop.api.identity import caller
from shop.api.openapi import BEARER, CALLER_REFUSALS, ORDERS
from shop.models.order import Order, OrderPage
from shop.services.orders import OrderService

app = create_app()


@cache
def order_service() -> OrderService:
    """This instance's order service: built on its first request, kept for its life."""
    return OrderService()


@app.get(
    "/users/<userId>/orders",
    tags=[ORDERS],
    summary="List a user's orders",
    description="A user's paid orders, newest first, one page at a time. The caller's own; an admin may read "
    "any user's. Pass the page's `nextCursor` as `cursor` for the next page (null: the last).",
    security=BEARER,
    responses={
        200: {"description": "One page of orders, newest first"},
        **refusals(BAD_REQUEST),
        **CALLER_REFUSALS,
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
    tags=[ORDERS],
    summary="Read an order",
    description="One paid order. An order that does not exist, or is another user's (unless the caller is an "
    "admin), is `404 ORDER_NOT_FOUND`.",
    security=BEARER,
    responses={200: {"description": "The order"}, **refusals(BAD_REQUEST, NOT_FOUND), **CALLER_REFUSALS},
)
def get_order(orderId: OrderId, service: Annotated[OrderService, Depends(order_service)]) -> Order:
    return service.order(caller(app), orderId)


lambda_handler = entry_point(app)
