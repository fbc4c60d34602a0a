"""Products: inquiry and catalogue administration."""

from __future__ import annotations

import time

from shop.errors import ProductNotFound
from shop.identity import Caller
from shop.ids import new_id
from shop.models.product import NewProduct, Product, ProductPage
from shop.repositories.products import ProductRepository
from shop.retry import Sleep


class CatalogueService:
    """`sleep` makes the pauses between attempts (given to the default repository)."""

    def __init__(self, products: ProductRepository | None = None, *, sleep: Sleep = time.sleep) -> None:
        self._products = products or ProductRepository(sleep=sleep)

    def product(self, product_id: str) -> Product:
        product = self._products.get(product_id)
        if product is None:
            raise ProductNotFound(product_id)
        return product

    def page(self, limit: int, cursor: str | None) -> ProductPage:
        items, next_cursor = self._products.page(limit, cursor)
        return ProductPage(items=items, next_cursor=next_cursor)

    def create(self, caller: Caller, new: NewProduct) -> Product:
        caller.administers()
        product = Product(product_id=new_id(), name=new.name, price=new.price, stock=new.stock)
        self._products.create(product)
        return product

    def restock(self, caller: Caller, product_id: str, quantity: int) -> Product:
        caller.administers()
        return self._products.restock(product_id, quantity)
