"""POST /orders: the caller orders and pays, spending stock, balance and an optional coupon together."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response, content_types

from shop.api.http import (
    BAD_REQUEST,
    CONFLICT,
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHORIZED,
    UNAVAILABLE,
    UNPROCESSABLE,
    create_app,
    entry_point,
    refusals,
)
from shop.api.idempotency import request_key
from shop.api.identity import caller
from shop.models.order import Order, PlaceOrder
from shop.observability import identify
from shop.services.orders import OrderService

app = create_app()


@cache
def order_service() -> OrderService:
    """This instance's order service: built on its first request, kept for its life."""
    return OrderService()


@app.post(
    "/orders",
    responses={
        201: {"description": "The paid order"},
        **refusals(BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, UNPROCESSABLE, UNAVAILABLE),
    },
)
def place_order(body: PlaceOrder, service: Annotated[OrderService, Depends(order_service)]) -> Response[Order]:
    order = service.place(caller(app), body, request_key(app))
    identify(order_id=order.order_id)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=order)


lambda_handler = entry_point(app, idempotent=True)
