"""Catalogue administration: products, restock, coupon campaigns; admins only."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response, content_types

from shop.api.http import BAD_REQUEST, NOT_FOUND, CouponId, ProductId, create_app, entry_point, refusals
from shop.api.identity import caller
from shop.api.openapi import BEARER, CALLER_REFUSALS, CATALOGUE_ADMINISTRATION
from shop.models.coupon import Coupon, NewCoupon
from shop.models.product import NewProduct, Product, Restock
from shop.observability import identify
from shop.services.catalogue import CatalogueService
from shop.services.coupons import CouponService

app = create_app()


@cache
def catalogue_service() -> CatalogueService:
    """This instance's catalogue service: built on its first request, kept for its life."""
    return CatalogueService()


@cache
def coupon_service() -> CouponService:
    """This instance's coupon service: built on its first request, kept for its life."""
    return CouponService()


@app.post(
    "/products",
    tags=[CATALOGUE_ADMINISTRATION],
    summary="Add a product",
    description="Adds a product to the catalogue with its name, price in won and stock, and answers it with the "
    "id it was given. Admins only: any other caller is `403 FORBIDDEN`.",
    security=BEARER,
    responses={201: {"description": "The new product"}, **refusals(BAD_REQUEST), **CALLER_REFUSALS},
)
def create_product(
    body: NewProduct, catalogue: Annotated[CatalogueService, Depends(catalogue_service)]
) -> Response[Product]:
    return Response(
        status_code=201, content_type=content_types.APPLICATION_JSON, body=catalogue.create(caller(app), body)
    )


@app.post(
    "/products/<productId>/stock",
    tags=[CATALOGUE_ADMINISTRATION],
    summary="Restock a product",
    description="Adds `quantity` (at least 1) to a product's stock and answers the product. A product that does "
    "not exist is `404 PRODUCT_NOT_FOUND`. Admins only.",
    security=BEARER,
    responses={
        200: {"description": "The restocked product"},
        **refusals(BAD_REQUEST, NOT_FOUND),
        **CALLER_REFUSALS,
    },
)
def restock_product(
    productId: ProductId, body: Restock, catalogue: Annotated[CatalogueService, Depends(catalogue_service)]
) -> Product:
    return catalogue.restock(caller(app), productId, body.quantity)


@app.post(
    "/coupons",
    tags=[CATALOGUE_ADMINISTRATION],
    summary="Open a coupon campaign",
    description="Opens a coupon campaign: a name, a discount (`FIXED` won off, or a `PERCENT` rate of 1 to 100, "
    "rounded down to the won), the total quantity of coupons, and how many days a coupon stays valid from its "
    "issue. Its coupons are then issued first come, first served. Admins only.",
    security=BEARER,
    responses={201: {"description": "The new coupon campaign"}, **refusals(BAD_REQUEST), **CALLER_REFUSALS},
)
def create_coupon(body: NewCoupon, coupons: Annotated[CouponService, Depends(coupon_service)]) -> Response[Coupon]:
    campaign = coupons.create(caller(app), body)
    identify(campaign_id=campaign.coupon_id)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=campaign)


@app.get(
    "/coupons/<couponId>",
    tags=[CATALOGUE_ADMINISTRATION],
    summary="Read a coupon campaign",
    description="A coupon campaign with its total and remaining quantities. A campaign that does not exist is "
    "`404 COUPON_NOT_FOUND`. Admins only.",
    security=BEARER,
    responses={
        200: {"description": "The coupon campaign"},
        **refusals(BAD_REQUEST, NOT_FOUND),
        **CALLER_REFUSALS,
    },
)
def get_coupon(couponId: CouponId, coupons: Annotated[CouponService, Depends(coupon_service)]) -> Coupon:
    return coupons.campaign(caller(app), couponId)


lambda_handler = entry_point(app, access="admin")
