"""The popular products ranking."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from shop.models.base import ResponseModel

RANKING_SIZE = 5
WINDOW_DAYS = 3


class PopularProduct(ResponseModel):
    rank: int
    product_id: str
    name: str
    price: int
    sold_quantity: int


class PopularProducts(ResponseModel):
    items: list[PopularProduct]
    from_: date = Field(alias="from")
    to: date


class ProductSales(ResponseModel):
    """Units of one product sold over some days, with its latest name and price."""

    product_id: str
    name: str
    price: int
    sold_quantity: int
