"""The identity matrix: no token, a token that fails verification, another user's data, a user on
the admin routes. A refusal of the gateway (its authorizer) has API Gateway's body,
`{"message": ...}`; a function's has the contract's, `{"code", "message"}`."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from remote.users import TestUser
from tests.remote.conftest import NewUser, as_, new_campaign, new_product
from tests.support.http import Answer, Client


def _by_gateway(answer: Answer) -> bool:
    return isinstance(answer.body, dict) and set(answer.body) == {"message"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]


def bad_tokens(victim: TestUser, thief: TestUser) -> dict[str, str]:
    """Tokens no issuer the API trusts signed as they are, made from real ones (so they fail
    verification wherever the API runs, whichever issuer it trusts)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    header, payload, signature = thief.token.split(".")
    claims = _part(thief.token, 1)
    as_victim = _b64(json.dumps({**claims, "sub": victim.user_id, "cognito:groups": ["admin"]}).encode())
    signing_input = f"{header}.{as_victim}"
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_signature = other_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    none_header = _b64(json.dumps({**_part(thief.token, 0), "alg": "none"}).encode())
    return {
        "garbage": "garbage",
        "claims changed, signature kept": f"{signing_input}.{signature}",
        "signed by another key with the issuer's key id": f"{signing_input}.{_b64(other_signature)}",
        "alg none": f"{none_header}.{as_victim}.",
        "no signature": f"{header}.{payload}.",
        "signature cut short": f"{header}.{payload}.{signature[:-8]}",
    }


def _protected(victim: TestUser, product: str, coupon: str) -> list[tuple[str, str, Any]]:
    v = victim.user_id
    return [
        ("GET", f"/users/{v}/balance", None),
        ("POST", f"/users/{v}/balance/charge", {"amount": 1_000}),
        ("GET", f"/users/{v}/balance/history", None),
        ("GET", f"/users/{v}/coupons", None),
        ("GET", f"/users/{v}/orders", None),
        ("POST", f"/coupons/{coupon}/issue", {"userId": v}),
        ("POST", "/orders", {"userId": v, "items": [{"productId": product, "quantity": 1}]}),
        ("GET", "/orders/o-anything", None),
        ("POST", "/products", {"name": "Lamp", "price": 1, "stock": 1}),
        ("POST", f"/products/{product}/stock", {"quantity": 1}),
        (
            "POST",
            "/coupons",
            {"name": "X", "discount": {"type": "PERCENT", "rate": 100}, "totalQuantity": 5, "validDays": 1},
        ),
        ("GET", f"/coupons/{coupon}", None),
    ]


@pytest.fixture(scope="module")
def victim(new_user: NewUser, api: Client, admin: Client) -> TestUser:
    victim = new_user("victim")
    as_(api, victim).ok("POST", f"/users/{victim.user_id}/balance/charge", {"amount": 50_000})
    return victim


@pytest.fixture(scope="module")
def product(admin: Client) -> str:
    return str(new_product(admin, price=100, stock=100)["productId"])


@pytest.fixture(scope="module")
def coupon(admin: Client) -> str:
    return str(new_campaign(admin, quantity=100)["couponId"])


def _untouched(api: Client, victim: TestUser) -> None:
    """The victim's money, coupons and orders are as `victim` left them."""
    mine = as_(api, victim)
    assert mine.ok("GET", f"/users/{victim.user_id}/balance")["balance"] == 50_000
    assert len(mine.ok("GET", f"/users/{victim.user_id}/balance/history")["items"]) == 1
    assert mine.ok("GET", f"/users/{victim.user_id}/coupons")["items"] == []
    assert mine.ok("GET", f"/users/{victim.user_id}/orders")["items"] == []


def test_no_token_is_401_from_the_gateway(api: Client, victim: TestUser, product: str, coupon: str) -> None:
    for method, path, body in _protected(victim, product, coupon):
        for headers in ({}, {"Authorization": ""}):
            answer = api.call(method, path, body, headers)
            assert answer.status == 401 and _by_gateway(answer), (method, path, headers, answer)
    _untouched(api, victim)


def test_a_token_that_fails_verification_is_refused_by_the_gateway(
    api: Client, victim: TestUser, product: str, coupon: str, new_user: NewUser
) -> None:
    thief = new_user("thief")
    for name, token in bad_tokens(victim, thief).items():
        for method, path, body in _protected(victim, product, coupon):
            answer = api.call(method, path, body, {"Authorization": f"Bearer {token}"})
            assert answer.status in (401, 403) and _by_gateway(answer), (name, method, path, answer)
    for scheme in ("Basic dXNlcjpwYXNz", f"Token {thief.token}", thief.token):  # not a bearer token
        answer = api.call("GET", f"/users/{thief.user_id}/balance", None, {"Authorization": scheme})
        assert answer.status in (401, 403) and _by_gateway(answer), answer
    _untouched(api, victim)


def test_a_user_reads_none_of_another_users_data_and_an_admin_reads_all(
    api: Client, admin: Client, victim: TestUser, new_user: NewUser
) -> None:
    other = as_(api, new_user("other"))
    for path in ("balance", "balance/history", "coupons", "orders"):
        answer = other.get(f"/users/{victim.user_id}/{path}")
        assert answer.code == "403 FORBIDDEN", (path, answer)
        assert admin.get(f"/users/{victim.user_id}/{path}").status == 200, path
    assert admin.ok("GET", f"/users/{victim.user_id}/balance") == {"userId": victim.user_id, "balance": 50_000}


def test_another_users_order_is_404(admin: Client, api: Client, new_user: NewUser) -> None:
    buyer = new_user("buyer")
    mine = as_(api, buyer)
    mine.ok("POST", f"/users/{buyer.user_id}/balance/charge", {"amount": 1_000})
    product = new_product(admin, price=100, stock=1)
    order = mine.ok("POST", "/orders", {"items": [{"productId": product["productId"], "quantity": 1}]})
    answer = as_(api, new_user("other")).get(f"/orders/{order['orderId']}")
    assert answer.code == "404 ORDER_NOT_FOUND", answer
    assert admin.ok("GET", f"/orders/{order['orderId']}") == order


def test_nobody_charges_spends_or_takes_a_coupon_for_another_user(
    api: Client, admin: Client, victim: TestUser, product: str, coupon: str, new_user: NewUser
) -> None:
    for thief in (as_(api, new_user("thief")), admin):
        answer = thief.post(f"/users/{victim.user_id}/balance/charge", {"amount": 1_000})
        assert answer.code == "403 FORBIDDEN", answer
        answer = thief.post("/orders", {"userId": victim.user_id, "items": [{"productId": product, "quantity": 1}]})
        assert answer.code == "403 FORBIDDEN", answer
        answer = thief.post(f"/coupons/{coupon}/issue", {"userId": victim.user_id})
        assert answer.code == "403 FORBIDDEN", answer
    _untouched(api, victim)


def test_the_caller_is_the_user_when_the_body_leaves_it_out(
    admin: Client, me: Client, user: TestUser, product: str, coupon: str
) -> None:
    me.ok("POST", f"/users/{user.user_id}/balance/charge", {"amount": 100_000})
    issued = me.ok("POST", f"/coupons/{coupon}/issue", {})
    assert issued["userId"] == user.user_id
    order = me.ok(
        "POST",
        "/orders",
        {"items": [{"productId": product, "quantity": 1}], "issuedCouponId": issued["issuedCouponId"]},
    )
    assert (order["userId"], order["issuedCouponId"]) == (user.user_id, issued["issuedCouponId"])


def test_catalogue_administration_is_403_for_a_user_and_served_for_an_admin(
    admin: Client, me: Client, victim: TestUser, product: str, coupon: str
) -> None:
    for method, path, body in _protected(victim, product, coupon)[-4:]:
        answer = me.call(method, path, body)
        assert answer.code == "403 FORBIDDEN", (method, path, answer)
        answer = admin.call(method, path, body)
        assert answer.status in (200, 201), (method, path, answer)


@pytest.mark.parametrize("path", ["/products", "/products/{}", "/products/popular"])
def test_the_catalogue_and_the_ranking_are_public(api: Client, product: str, path: str) -> None:
    assert api.get(path.format(product)).status == 200
    assert api.call("GET", path.format(product), None, {"Authorization": "Bearer garbage"}).status == 200
