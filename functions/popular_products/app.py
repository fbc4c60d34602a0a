"""GET /products/popular: the top sellers of the last days."""

from shop.api.http import create_app, entry_point
from shop.models.popular import PopularProducts
from shop.services.popular import PopularProductsService

app = create_app()
service = PopularProductsService()


@app.get("/products/popular", responses={200: {"description": "The ranking"}})
def popular_products() -> PopularProducts:
    return service.popular()


lambda_handler = entry_point(app, access="public")
