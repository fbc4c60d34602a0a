"""Products of the catalogue."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from shop.models.base import RequestModel, ResponseModel

MAX_PRICE = 1_000_000_000
MAX_STOCK = 1_000_000_000

ProductName = Annotated[str, StringConstraints(strict=True, strip_whitespace=False, min_length=1, max_length=200)]


class NewProduct(RequestModel):
    name: ProductName
    price: Annotated[int, Field(ge=0, le=MAX_PRICE)]
    stock: Annotated[int, Field(ge=0, le=MAX_STOCK)]


class Restock(RequestModel):
    quantity: Annotated[int, Field(ge=1, le=MAX_STOCK)]


class Product(ResponseModel):
    product_id: str
    name: str
    price: int
    stock: int


class ProductPage(ResponseModel):
    items: list[Product]
    next_cursor: str | None
