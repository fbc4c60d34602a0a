"""Catalogue administration: products, restock, coupon campaigns; admins only."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response, content_types

from shop.api.http import (
    BAD_REQUEST,
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHORIZED,
    CouponId,
    ProductId,
    create_app,
    entry_point,
    refusals,
)
from shop.api.identity import caller
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
    "/products", responses={201: {"description": "The new product"}, **refusals(BAD_REQUEST, UNAUTHORIZED, FORBIDDEN)}
)
def create_product(
    body: NewProduct, catalogue: Annotated[CatalogueService, Depends(catalogue_service)]
) -> Response[Product]:
    return Response(
        status_code=201, content_type=content_types.APPLICATION_JSON, body=catalogue.create(caller(app), body)
    )


@app.post(
    "/products/<productId>/stock",
    responses={
        200: {"description": "The restocked product"},
        **refusals(BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND),
    },
)
def restock_product(
    productId: ProductId, body: Restock, catalogue: Annotated[CatalogueService, Depends(catalogue_service)]
) -> Product:
    return catalogue.restock(caller(app), productId, body.quantity)


@app.post(
    "/coupons",
    responses={201: {"description": "The new coupon campaign"}, **refusals(BAD_REQUEST, UNAUTHORIZED, FORBIDDEN)},
)
def create_coupon(body: NewCoupon, coupons: Annotated[CouponService, Depends(coupon_service)]) -> Response[Coupon]:
    campaign = coupons.create(caller(app), body)
    identify(campaign_id=campaign.coupon_id)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=campaign)


@app.get(
    "/coupons/<couponId>",
    responses={
        200: {"description": "The coupon campaign"},
        **refusals(BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND),
    },
)
def get_coupon(couponId: CouponId, coupons: Annotated[CouponService, Depends(coupon_service)]) -> Coupon:
    return coupons.campaign(caller(app), couponId)


lambda_handler = entry_point(app, access="admin")
