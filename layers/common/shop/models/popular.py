"""The popular products ranking."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from shop.models.base import ResponseModel, example

RANKING_SIZE = 5
WINDOW_DAYS = 3


class PopularProduct(ResponseModel):
    rank: int
    product_id: str
    name: str
    price: int
    sold_quantity: int


class PopularProducts(ResponseModel):
    model_config = example(
        {
            "items": [
                {
                    "rank": 1,
                    "productId": "0193a4f2c1e8d3b5a7f90c1e2d4",
                    "name": "Mechanical keyboard",
                    "price": 89_000,
                    "soldQuantity": 42,
                }
            ],
            "from": "2026-11-22",
            "to": "2026-11-24",
        }
    )

    items: list[PopularProduct]
    from_: date = Field(alias="from")
    to: date


class ProductSales(ResponseModel):
    """Units of one product sold over some days, with its latest name and price."""

    product_id: str
    name: str
    price: int
    sold_quantity: int
