"""POST /orders: order and pay, spending stock, balance and an optional coupon together."""

from aws_lambda_powertools.event_handler import Response, content_types

from shop.api.access import request_key
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
from shop.models.order import Order, PlaceOrder
from shop.services.orders import OrderService

app = create_app()
service = OrderService()


@app.post(
    "/orders",
    responses={
        201: {"description": "The paid order"},
        **refusals(BAD_REQUEST, NOT_FOUND, CONFLICT, UNPROCESSABLE, UNAVAILABLE),
    },
)
def place_order(body: PlaceOrder) -> Response[Order]:
    return Response(
        status_code=201, content_type=content_types.APPLICATION_JSON, body=service.place(body, request_key(app))
    )


lambda_handler = entry_point(app, idempotent=True)
