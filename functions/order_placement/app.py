"""POST /orders: the caller orders and pays, spending stock, balance and an optional coupon together."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response, content_types

from shop.api.http import (
    BAD_REQUEST,
    CONFLICT,
    NOT_FOUND,
    UNAVAILABLE,
    UNPROCESSABLE,
    create_app,
    entry_point,
    refusals,
)
from shop.api.idempotency import IdempotencyKey, request_key
from shop.api.identity import caller
from shop.api.openapi import BEARER, CALLER_REFUSALS, ORDERS
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
    tags=[ORDERS],
    summary="Place and pay an order",
    description="The caller orders 1 to 50 lines, each product at most once, optionally with one of their "
    "coupons, and pays from their balance. One atomic change: the balance, every stock, the coupon and the order "
    "move together or not at all. `paidAmount` is `totalAmount - discountAmount`, never below 0; a `PERCENT` "
    "discount rounds down to the won. Refusals: `404 PRODUCT_NOT_FOUND`; `409 OUT_OF_STOCK` (naming the product), "
    "`409 INSUFFICIENT_BALANCE`, `409 INVALID_COUPON` (not found, not the caller's, used or expired). `userId` may "
    "be left out: it is the caller. Send an `Idempotency-Key` to retry safely; a `503 OUTCOME_UNKNOWN` is retried "
    "with the same key to learn the real outcome.",
    security=BEARER,
    responses={
        201: {"description": "The paid order"},
        **refusals(BAD_REQUEST, NOT_FOUND, CONFLICT, UNPROCESSABLE, UNAVAILABLE),
        **CALLER_REFUSALS,
    },
)
def place_order(
    body: PlaceOrder,
    service: Annotated[OrderService, Depends(order_service)],
    idempotency_key: IdempotencyKey = None,
) -> Response[Order]:
    order = service.place(caller(app), body, request_key(app))
    identify(order_id=order.order_id)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=order)


lambda_handler = entry_point(app, idempotent=True)
