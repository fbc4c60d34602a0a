"""Products and coupon campaigns: made by the run's admin, read by anyone (products) or the admin
(campaigns); coupons issued first come, first served, one a user."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from remote.users import TestUser
from tests.remote.conftest import RUN, NewUser, as_, new_campaign, new_product
from tests.support.http import Client

PRODUCT_FIELDS = {"productId", "name", "price", "stock"}
ISSUED_FIELDS = {"issuedCouponId", "couponId", "userId", "name", "discount", "status", "issuedAt", "expiresAt"}


def test_a_product_made_by_the_admin_is_public(api: Client, admin: Client) -> None:
    product = new_product(admin, price=1_234, stock=7)
    assert set(product) == PRODUCT_FIELDS
    assert (product["name"], product["price"], product["stock"]) == (f"product {RUN}", 1_234, 7)
    assert api.ok("GET", f"/products/{product['productId']}") == product


def test_a_restock_adds_to_the_stock(api: Client, admin: Client) -> None:
    product = new_product(admin, price=10, stock=2)
    restocked = admin.ok("POST", f"/products/{product['productId']}/stock", {"quantity": 5})
    assert restocked == {**product, "stock": 7}
    assert api.ok("GET", f"/products/{product['productId']}")["stock"] == 7
    missing = admin.post(f"/products/p-{uuid.uuid4().hex}/stock", {"quantity": 1})
    assert missing.code == "404 PRODUCT_NOT_FOUND", missing


def test_an_unknown_product_is_404(api: Client) -> None:
    answer = api.get(f"/products/p-{uuid.uuid4().hex}")
    assert answer.code == "404 PRODUCT_NOT_FOUND", answer


def test_the_product_list_pages_with_its_cursor(api: Client, admin: Client) -> None:
    for _ in range(3):
        new_product(admin, price=1, stock=1)
    first = api.ok("GET", "/products?limit=2")
    assert len(first["items"]) == 2 and isinstance(first["nextCursor"], str)
    assert all(set(item) == PRODUCT_FIELDS for item in first["items"])
    second = api.ok("GET", f"/products?limit=2&cursor={first['nextCursor']}")
    assert second["items"]
    assert not {p["productId"] for p in first["items"]} & {p["productId"] for p in second["items"]}


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_a_limit_outside_1_to_100_is_400(api: Client, limit: str) -> None:
    assert api.get(f"/products?limit={limit}").code == "400 INVALID_REQUEST"


def test_the_popular_list_has_its_shape(api: Client) -> None:
    popular = api.ok("GET", "/products/popular")
    assert set(popular) == {"items", "from", "to"} and len(popular["items"]) <= 5
    assert [item["rank"] for item in popular["items"]] == list(range(1, len(popular["items"]) + 1))


INVALID_PRODUCTS: dict[str, Any] = {
    "negative price": {"name": "x", "price": -1, "stock": 1},
    "price as a string": {"name": "x", "price": "1", "stock": 1},
    "negative stock": {"name": "x", "price": 1, "stock": -1},
    "no name": {"price": 1, "stock": 1},
}


@pytest.mark.parametrize("body", INVALID_PRODUCTS.values(), ids=INVALID_PRODUCTS.keys())
def test_an_invalid_product_is_400(admin: Client, body: Any) -> None:
    assert admin.post("/products", body).code == "400 INVALID_REQUEST"


def test_coupons_are_issued_one_a_user_until_the_campaign_is_sold_out(
    api: Client, admin: Client, new_user: NewUser
) -> None:
    campaign = new_campaign(admin, quantity=2, discount={"type": "PERCENT", "rate": 10})
    assert campaign["remainingQuantity"] == 2 and campaign["validDays"] == 7
    assert admin.ok("GET", f"/coupons/{campaign['couponId']}") == campaign
    first, second, late = (new_user("holder") for _ in range(3))
    issue = f"/coupons/{campaign['couponId']}/issue"

    issued = as_(api, first).post(issue, {"userId": first.user_id})
    assert issued.status == 201, issued
    assert set(issued.body) == ISSUED_FIELDS
    assert (issued.body["userId"], issued.body["couponId"], issued.body["status"]) == (
        first.user_id,
        campaign["couponId"],
        "AVAILABLE",
    )
    assert issued.body["discount"] == {"type": "PERCENT", "rate": 10}
    assert as_(api, first).post(issue, {"userId": first.user_id}).code == "409 COUPON_ALREADY_ISSUED"
    assert as_(api, second).post(issue, {}).status == 201
    assert as_(api, late).post(issue, {"userId": late.user_id}).code == "409 COUPON_SOLD_OUT"

    assert admin.ok("GET", f"/coupons/{campaign['couponId']}")["remainingQuantity"] == 0
    assert as_(api, first).ok("GET", f"/users/{first.user_id}/coupons") == {"items": [issued.body]}
    assert as_(api, late).ok("GET", f"/users/{late.user_id}/coupons") == {"items": []}


def test_an_unknown_campaign_is_404(admin: Client, me: Client, user: TestUser) -> None:
    unknown = f"c-{uuid.uuid4().hex}"
    assert me.post(f"/coupons/{unknown}/issue", {"userId": user.user_id}).code == "404 COUPON_NOT_FOUND"
    assert admin.get(f"/coupons/{unknown}").code == "404 COUPON_NOT_FOUND"


INVALID_CAMPAIGNS: dict[str, Any] = {
    "rate over 100": {"discount": {"type": "PERCENT", "rate": 101}},
    "no quantity": {"totalQuantity": 0},
    "unknown discount": {"discount": {"type": "GIFT"}},
    "validDays 0": {"validDays": 0},
}


@pytest.mark.parametrize("change", INVALID_CAMPAIGNS.values(), ids=INVALID_CAMPAIGNS.keys())
def test_an_invalid_campaign_is_400(admin: Client, change: dict[str, Any]) -> None:
    body = {"name": "x", "discount": {"type": "FIXED", "amount": 1}, "totalQuantity": 1, "validDays": 1, **change}
    assert admin.post("/coupons", body).code == "400 INVALID_REQUEST"
