"""GET /products and GET /products/{productId}: the catalogue."""

from shop.api.http import BAD_REQUEST, NOT_FOUND, Cursor, Limit, ProductId, create_app, entry_point, refusals
from shop.models.product import Product, ProductPage
from shop.services.catalogue import CatalogueService

app = create_app()
service = CatalogueService()


@app.get("/products", responses={200: {"description": "One page of products"}, **refusals(BAD_REQUEST)})
def list_products(limit: Limit = 20, cursor: Cursor = None) -> ProductPage:
    return service.page(limit, cursor)


@app.get("/products/<productId>", responses={200: {"description": "The product"}, **refusals(BAD_REQUEST, NOT_FOUND)})
def get_product(productId: ProductId) -> Product:
    return service.product(productId)


lambda_handler = entry_point(app, access="public")
