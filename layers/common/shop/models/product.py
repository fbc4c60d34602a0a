"""Products of the catalogue."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints
from pydantic.config import JsonDict

from shop.models.base import RequestModel, ResponseModel, example

MAX_PRICE = 1_000_000_000
MAX_STOCK = 1_000_000_000

ProductName = Annotated[str, StringConstraints(strict=True, strip_whitespace=False, min_length=1, max_length=200)]


class NewProduct(RequestModel):
    model_config = example({"name": "Mechanical keyboard", "price": 89_000, "stock": 120})

    name: ProductName
    price: Annotated[int, Field(ge=0, le=MAX_PRICE)]
    stock: Annotated[int, Field(ge=0, le=MAX_STOCK)]


class Restock(RequestModel):
    model_config = example({"quantity": 50})

    quantity: Annotated[int, Field(ge=1, le=MAX_STOCK)]


PRODUCT_EXAMPLE: JsonDict = {
    "productId": "0193a4f2c1e8d3b5a7f90c1e2d4",
    "name": "Mechanical keyboard",
    "price": 89_000,
    "stock": 120,
}


class Product(ResponseModel):
    model_config = example(PRODUCT_EXAMPLE)

    product_id: str
    name: str
    price: int
    stock: int


class ProductPage(ResponseModel):
    model_config = example({"items": [PRODUCT_EXAMPLE], "nextCursor": PRODUCT_EXAMPLE["productId"]})

    items: list[Product]
    next_cursor: str | None
