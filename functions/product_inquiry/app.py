"""GET /products and GET /products/{productId}: the catalogue."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends

from shop.api.http import BAD_REQUEST, NOT_FOUND, Cursor, Limit, ProductId, create_app, entry_point, refusals
from shop.api.openapi import PRODUCTS
from shop.models.product import Product, ProductPage
from shop.services.catalogue import CatalogueService

app = create_app()


@cache
def catalogue_service() -> CatalogueService:
    """This instance's catalogue service: built on its first request, kept for its life."""
    return CatalogueService()


@app.get(
    "/products",
    tags=[PRODUCTS],
    summary="List the catalogue",
    description="The catalogue's products, one page at a time (`limit` 1 to 100). Pass the page's `nextCursor` "
    "as `cursor` for the next page (null: the last). Public.",
    responses={200: {"description": "One page of products"}, **refusals(BAD_REQUEST)},
)
def list_products(
    service: Annotated[CatalogueService, Depends(catalogue_service)], limit: Limit = 20, cursor: Cursor = None
) -> ProductPage:
    return service.page(limit, cursor)


@app.get(
    "/products/<productId>",
    tags=[PRODUCTS],
    summary="Read a product",
    description="A product with its price in won and its stock. A product that does not exist is "
    "`404 PRODUCT_NOT_FOUND`. Public.",
    responses={200: {"description": "The product"}, **refusals(BAD_REQUEST, NOT_FOUND)},
)
def get_product(productId: ProductId, service: Annotated[CatalogueService, Depends(catalogue_service)]) -> Product:
    return service.product(productId)


lambda_handler = entry_point(app, access="public")
