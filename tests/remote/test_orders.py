"""Orders: paid from the balance, with or without a coupon, refused for stock, balance, coupon or
product, and one atomic change whether served or refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from remote.users import TestUser
from tests.remote.conftest import NewUser, as_, new_campaign, new_product
from tests.support.http import Client


def _state(me: Client, user: TestUser, *products: dict[str, Any]) -> tuple[Any, ...]:
    """What an order moves: the balance, the history, the coupons, the orders and the stocks."""
    base = f"/users/{user.user_id}"
    return (
        me.ok("GET", f"{base}/balance")["balance"],
        me.ok("GET", f"{base}/balance/history")["items"],
        me.ok("GET", f"{base}/coupons")["items"],
        me.ok("GET", f"{base}/orders")["items"],
        *(me.ok("GET", f"/products/{product['productId']}")["stock"] for product in products),
    )


def test_an_order_is_paid_from_the_balance_and_shows_everywhere(admin: Client, me: Client, user: TestUser) -> None:
    product = new_product(admin, price=1_500, stock=5)
    me.ok("POST", f"/users/{user.user_id}/balance/charge", {"amount": 10_000})

    order = me.ok(
        "POST", "/orders", {"userId": user.user_id, "items": [{"productId": product["productId"], "quantity": 2}]}
    )

    assert order["items"] == [
        {"productId": product["productId"], "name": product["name"], "unitPrice": 1_500, "quantity": 2}
    ]
    assert (order["userId"], order["status"], order["issuedCouponId"]) == (user.user_id, "PAID", None)
    assert (order["totalAmount"], order["discountAmount"], order["paidAmount"]) == (3_000, 0, 3_000)
    assert me.ok("GET", f"/orders/{order['orderId']}") == order
    assert me.ok("GET", f"/users/{user.user_id}/orders")["items"] == [order]
    history = me.ok("GET", f"/users/{user.user_id}/balance/history")["items"]
    assert [(e["type"], e["amount"], e.get("orderId")) for e in history] == [
        ("PAYMENT", 3_000, order["orderId"]),
        ("CHARGE", 10_000, None),
    ]
    assert me.ok("GET", f"/users/{user.user_id}/balance")["balance"] == 7_000
    assert me.ok("GET", f"/products/{product['productId']}")["stock"] == 3


@pytest.mark.parametrize(
    ("discount", "price", "expected_discount"),
    [
        ({"type": "FIXED", "amount": 1_000}, 3_000, 1_000),
        ({"type": "PERCENT", "rate": 15}, 999, 149),  # 149.85 rounds down to the won
        ({"type": "FIXED", "amount": 5_000}, 1_000, 1_000),  # never below 0
    ],
    ids=["fixed", "percent rounds down", "fixed over the total"],
)
def test_an_order_with_a_coupon_pays_the_discounted_amount_and_uses_the_coupon(
    admin: Client, me: Client, user: TestUser, discount: dict[str, Any], price: int, expected_discount: int
) -> None:
    product = new_product(admin, price=price, stock=5)
    campaign = new_campaign(admin, quantity=5, discount=discount)
    me.ok("POST", f"/users/{user.user_id}/balance/charge", {"amount": 10_000})
    coupon = me.ok("POST", f"/coupons/{campaign['couponId']}/issue", {"userId": user.user_id})
    body = {
        "userId": user.user_id,
        "items": [{"productId": product["productId"], "quantity": 1}],
        "issuedCouponId": coupon["issuedCouponId"],
    }

    order = me.ok("POST", "/orders", body)

    assert (order["totalAmount"], order["discountAmount"], order["paidAmount"]) == (
        price,
        expected_discount,
        price - expected_discount,
    )
    assert order["issuedCouponId"] == coupon["issuedCouponId"]
    assert [c["status"] for c in me.ok("GET", f"/users/{user.user_id}/coupons")["items"]] == ["USED"]
    assert me.ok("GET", f"/users/{user.user_id}/balance")["balance"] == 10_000 - order["paidAmount"]
    again = me.post("/orders", body)
    assert again.code == "409 INVALID_COUPON", again


def test_refused_orders_change_nothing(
    admin: Client, api: Client, me: Client, user: TestUser, new_user: NewUser
) -> None:
    cheap = new_product(admin, price=100, stock=5, label="cheap")
    scarce = new_product(admin, price=100, stock=1, label="scarce")
    dear = new_product(admin, price=1_000_000, stock=5, label="dear")
    campaign = new_campaign(admin, quantity=5)
    other = new_user("other")
    others_coupon = as_(api, other).ok("POST", f"/coupons/{campaign['couponId']}/issue", {})
    mine = me.ok("POST", f"/coupons/{campaign['couponId']}/issue", {})
    me.ok("POST", f"/users/{user.user_id}/balance/charge", {"amount": 5_000})
    before = _state(me, user, cheap, scarce, dear)

    def order(*lines: tuple[dict[str, Any], int], coupon: str | None = None) -> Any:
        body: dict[str, Any] = {"items": [{"productId": p["productId"], "quantity": q} for p, q in lines]}
        if coupon:
            body["issuedCouponId"] = coupon
        return me.post("/orders", body)

    out_of_stock = order((cheap, 1), (scarce, 2))
    assert out_of_stock.code == "409 OUT_OF_STOCK", out_of_stock
    assert scarce["productId"] in out_of_stock.body["message"] or scarce["name"] in out_of_stock.body["message"]
    assert order((cheap, 1), (dear, 1)).code == "409 INSUFFICIENT_BALANCE"
    assert order((cheap, 1), coupon=others_coupon["issuedCouponId"]).code == "409 INVALID_COUPON"
    assert order((cheap, 1), coupon=f"ic-{uuid.uuid4().hex}").code == "409 INVALID_COUPON"
    assert order((cheap, 1), ({"productId": f"p-{uuid.uuid4().hex}"}, 1)).code == "404 PRODUCT_NOT_FOUND"
    assert order((cheap, 1), (scarce, 2), coupon=mine["issuedCouponId"]).code == "409 OUT_OF_STOCK"

    assert _state(me, user, cheap, scarce, dear) == before


INVALID_ORDERS: dict[str, Any] = {
    "no lines": {"items": []},
    "51 lines": {"items": [{"productId": f"p-{n}", "quantity": 1} for n in range(51)]},
    "a product twice": {"items": [{"productId": "p-1", "quantity": 1}, {"productId": "p-1", "quantity": 2}]},
    "quantity 0": {"items": [{"productId": "p-1", "quantity": 0}]},
    "quantity a string": {"items": [{"productId": "p-1", "quantity": "1"}]},
    "an unknown field": {"items": [{"productId": "p-1", "quantity": 1}], "note": "x"},
}


@pytest.mark.parametrize("body", INVALID_ORDERS.values(), ids=INVALID_ORDERS.keys())
def test_an_invalid_order_is_400(me: Client, body: Any) -> None:
    assert me.post("/orders", body).code == "400 INVALID_REQUEST"


def test_an_unknown_order_is_404(me: Client) -> None:
    assert me.get(f"/orders/o-{uuid.uuid4().hex}").code == "404 ORDER_NOT_FOUND"
