"""Products (inquiry, the paged list) and catalogue administration (products, restock, campaigns)."""

from __future__ import annotations

from typing import Any

import pytest

PRODUCTS = "ProductInquiryFunction"
ADMIN = "CatalogueAdminFunction"


def create_product(api: Any, name: str = "Desk lamp", price: int = 25_000, stock: int = 7) -> dict[str, Any]:
    status, body = api.call(
        ADMIN, "POST", "/products", {"name": name, "price": price, "stock": stock}, caller="admin", admin=True
    )
    assert status == 201, body
    return body  # type: ignore[no-any-return]


def test_a_created_product_is_answered_and_can_be_read(api: Any) -> None:
    created = create_product(api)
    assert {k: created[k] for k in ("name", "price", "stock")} == {"name": "Desk lamp", "price": 25_000, "stock": 7}
    assert api.call(PRODUCTS, "GET", f"/products/{created['productId']}") == (200, created)


def test_two_products_get_different_ids(api: Any) -> None:
    assert create_product(api)["productId"] != create_product(api)["productId"]


def test_an_unknown_product_is_404(api: Any) -> None:
    status, body = api.call(PRODUCTS, "GET", "/products/nope")
    assert (status, body["code"]) == (404, "PRODUCT_NOT_FOUND")


def test_the_paged_list_gives_every_product_once(api: Any) -> None:
    created = {create_product(api, name=f"Product {n}")["productId"] for n in range(7)}
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        status, page = api.call(PRODUCTS, "GET", "/products", query=query)
        assert status == 200, page
        assert len(page["items"]) <= 3
        seen += [item["productId"] for item in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert pages < 10
    assert sorted(seen) == sorted(created)
    assert pages >= 3


def test_the_list_defaults_to_twenty(api: Any) -> None:
    for n in range(21):
        create_product(api, name=f"Product {n}")
    status, page = api.call(PRODUCTS, "GET", "/products")
    assert status == 200
    assert len(page["items"]) == 20
    assert page["nextCursor"] is not None


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"cursor": "not a cursor"}])
def test_a_bad_limit_or_cursor_is_refused(api: Any, query: dict[str, str]) -> None:
    status, body = api.call(PRODUCTS, "GET", "/products", query=query)
    assert (status, body["code"]) == (400, "INVALID_REQUEST")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Lamp", "price": -1, "stock": 1},
        {"name": "Lamp", "price": 100, "stock": -1},
        {"name": "Lamp", "price": "100", "stock": 1},
        {"name": "Lamp", "price": 100, "stock": 1.5},
        {"name": "", "price": 100, "stock": 1},
        {"name": 5, "price": 100, "stock": 1},
        {"price": 100, "stock": 1},
        {"name": "Lamp", "price": 100, "stock": 1, "productId": "chosen"},
    ],
)
def test_an_invalid_product_is_refused_and_not_created(api: Any, body: dict[str, Any]) -> None:
    status, answer = api.call(ADMIN, "POST", "/products", body, caller="admin", admin=True)
    assert (status, answer["code"]) == (400, "INVALID_REQUEST")
    assert api.call(PRODUCTS, "GET", "/products")[1]["items"] == []


def test_a_free_product_with_no_stock_is_allowed(api: Any) -> None:
    assert create_product(api, price=0, stock=0)["price"] == 0


def test_restock_adds_to_the_stock(api: Any) -> None:
    product = create_product(api, stock=7)
    status, body = api.call(
        ADMIN, "POST", f"/products/{product['productId']}/stock", {"quantity": 5}, caller="admin", admin=True
    )
    assert status == 200
    assert body == product | {"stock": 12}
    assert api.call(PRODUCTS, "GET", f"/products/{product['productId']}")[1]["stock"] == 12


def test_restocking_an_unknown_product_is_404_and_creates_nothing(api: Any) -> None:
    status, body = api.call(ADMIN, "POST", "/products/ghost/stock", {"quantity": 5}, caller="admin", admin=True)
    assert (status, body["code"]) == (404, "PRODUCT_NOT_FOUND")
    assert api.call(PRODUCTS, "GET", "/products/ghost")[0] == 404


@pytest.mark.parametrize("quantity", [0, -3, "5", 2.5, True, None])
def test_a_restock_quantity_must_be_a_positive_integer(api: Any, quantity: Any) -> None:
    product = create_product(api, stock=7)
    status, body = api.call(
        ADMIN, "POST", f"/products/{product['productId']}/stock", {"quantity": quantity}, caller="admin", admin=True
    )
    assert (status, body["code"]) == (400, "INVALID_REQUEST")
    assert api.call(PRODUCTS, "GET", f"/products/{product['productId']}")[1]["stock"] == 7


@pytest.mark.parametrize(
    "discount",
    [{"type": "FIXED", "amount": 3_000}, {"type": "PERCENT", "rate": 1}, {"type": "PERCENT", "rate": 100}],
)
def test_a_coupon_campaign_is_created_and_read(api: Any, discount: dict[str, Any]) -> None:
    status, coupon = api.call(
        ADMIN,
        "POST",
        "/coupons",
        {"name": "Sale", "discount": discount, "totalQuantity": 10, "validDays": 3},
        caller="admin",
        admin=True,
    )
    assert status == 201, coupon
    assert coupon == {
        "couponId": coupon["couponId"],
        "name": "Sale",
        "discount": discount,
        "totalQuantity": 10,
        "remainingQuantity": 10,
        "validDays": 3,
    }
    assert api.call(ADMIN, "GET", f"/coupons/{coupon['couponId']}", caller="admin", admin=True) == (200, coupon)


@pytest.mark.parametrize(
    "change",
    [
        {"discount": {"type": "PERCENT", "rate": 0}},
        {"discount": {"type": "PERCENT", "rate": 101}},
        {"discount": {"type": "PERCENT", "amount": 10}},
        {"discount": {"type": "FIXED", "amount": 0}},
        {"discount": {"type": "FIXED", "amount": "1000"}},
        {"discount": {"type": "GIFT", "amount": 1000}},
        {"discount": {"type": "FIXED", "amount": 1000, "rate": 5}},
        {"totalQuantity": 0},
        {"validDays": 0},
        {"validDays": "7"},
        {"name": ""},
    ],
)
def test_an_invalid_campaign_is_refused(api: Any, change: dict[str, Any]) -> None:
    body = {"name": "Sale", "discount": {"type": "FIXED", "amount": 1000}, "totalQuantity": 10, "validDays": 3}
    status, answer = api.call(ADMIN, "POST", "/coupons", body | change, caller="admin", admin=True)
    assert (status, answer["code"]) == (400, "INVALID_REQUEST")


def test_an_unknown_campaign_is_404(api: Any) -> None:
    status, body = api.call(ADMIN, "GET", "/coupons/none", caller="admin", admin=True)
    assert (status, body["code"]) == (404, "COUPON_NOT_FOUND")
