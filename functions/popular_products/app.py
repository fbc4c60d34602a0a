"""GET /products/popular: the top sellers of the last days."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends

from shop.api.http import create_app, entry_point
from shop.api.openapi import POPULAR_PRODUCTS
from shop.models.popular import PopularProducts
from shop.services.popular import PopularProductsService

app = create_app()


@cache
def popular_products_service() -> PopularProductsService:
    """This instance's ranking service: built on its first request, kept for its life."""
    return PopularProductsService()


@app.get(
    "/products/popular",
    tags=[POPULAR_PRODUCTS],
    summary="Rank the top sellers",
    description="The top 5 products by units sold in completed orders over the last 3 days (`from`..`to`, "
    "Asia/Seoul days), ties broken by product id. A completed order shows in the ranking within seconds. Public.",
    responses={200: {"description": "The ranking"}},
)
def popular_products(service: Annotated[PopularProductsService, Depends(popular_products_service)]) -> PopularProducts:
    return service.popular()


lambda_handler = entry_point(app, access="public")
