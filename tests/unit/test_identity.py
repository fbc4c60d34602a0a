"""Ownership on every route: who may read and change what, once the authorizer has named the caller.

Each function is called as API Gateway calls it after the authorizer: with the caller in
`requestContext.authorizer.lambda`. A refusal changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_runtime import template
from local_runtime.seed import BALANCES
from shop.api.identity import Caller, caller_of
from tests.unit.conftest import Api

USER, OTHER, ADMIN = "user-1", "user-2", "boss"
ADMIN_FN = "CatalogueAdminFunction"


def snapshot(aws: Any) -> dict[str, list[str]]:
    return {
        name: sorted(json.dumps(item, sort_keys=True) for item in aws.scan(TableName=name)["Items"])
        for name in template.table_definitions()
    }


@pytest.fixture
def shop(api: Api, seeded: None) -> Api:
    return api


def as_user(caller: str | None, admin: bool = False) -> dict[str, Any]:
    return {"caller": caller, "admin": admin}


def refused(shop: Api, aws: Any, status: int, fn: str, method: str, path: str, body: Any = None, **who: Any) -> None:
    before = snapshot(aws)
    answer = shop.call(fn, method, path, body, **who)
    expected = {401: "UNAUTHORIZED", 403: "FORBIDDEN"}[status]
    assert (answer[0], answer[1]["code"]) == (status, expected), answer
    assert set(answer[1]) == {"code", "message"}
    assert snapshot(aws) == before, "a refused request changed the database"


# ---------------------------------------------------------------- reading a user's data


@pytest.mark.parametrize(
    ("fn", "path"),
    [("BalanceInquiryFunction", "/users/{}/balance"), ("UserCouponsFunction", "/users/{}/coupons")],
    ids=["balance", "coupons"],
)
def test_a_user_reads_their_own_data_and_an_admin_anyones(shop: Api, aws: Any, fn: str, path: str) -> None:
    assert shop.call(fn, "GET", path.format(USER), **as_user(USER))[0] == 200
    refused(shop, aws, 403, fn, "GET", path.format(OTHER), **as_user(USER))
    status, body = shop.call(fn, "GET", path.format(OTHER), **as_user(ADMIN, admin=True))
    assert status == 200, body
    refused(shop, aws, 401, fn, "GET", path.format(USER), **as_user(None))


def test_an_admin_reads_another_users_balance_as_it_is(shop: Api) -> None:
    assert shop.call("BalanceInquiryFunction", "GET", f"/users/{OTHER}/balance", **as_user(ADMIN, admin=True)) == (
        200,
        {"userId": OTHER, "balance": BALANCES[OTHER]},
    )


def test_the_refusal_does_not_tell_the_other_users_balance(shop: Api) -> None:
    status, body = shop.call("BalanceInquiryFunction", "GET", f"/users/{OTHER}/balance", **as_user(USER))
    assert status == 403
    assert str(BALANCES[OTHER]) not in json.dumps(body)


# ---------------------------------------------------------------- charging


def test_a_user_charges_only_their_own_balance(shop: Api, aws: Any) -> None:
    charge = {"amount": 1_000}
    status, body = shop.call("BalanceChargeFunction", "POST", f"/users/{USER}/balance/charge", charge, **as_user(USER))
    assert (status, body) == (200, {"userId": USER, "balance": BALANCES[USER] + 1_000})
    refused(shop, aws, 403, "BalanceChargeFunction", "POST", f"/users/{OTHER}/balance/charge", charge, **as_user(USER))
    refused(
        shop,
        aws,
        403,
        "BalanceChargeFunction",
        "POST",
        f"/users/{OTHER}/balance/charge",
        charge,
        **as_user(ADMIN, admin=True),
    )
    refused(shop, aws, 401, "BalanceChargeFunction", "POST", f"/users/{USER}/balance/charge", charge, **as_user(None))


# ---------------------------------------------------------------- taking a coupon


def test_a_coupon_is_issued_to_the_caller_named_or_left_out(shop: Api) -> None:
    status, issued = shop.call("CouponIssueFunction", "POST", "/coupons/c-welcome/issue", {}, **as_user(USER))
    assert (status, issued["userId"]) == (201, USER)
    named = {"userId": OTHER}
    status, issued = shop.call("CouponIssueFunction", "POST", "/coupons/c-flash/issue", named, **as_user(OTHER))
    assert (status, issued["userId"]) == (201, OTHER)
    held = shop.call("UserCouponsFunction", "GET", f"/users/{USER}/coupons", **as_user(USER))[1]["items"]
    assert [c["couponId"] for c in held] == ["c-welcome"]


@pytest.mark.parametrize("who", [as_user(USER), as_user(ADMIN, admin=True)], ids=["user", "admin"])
def test_nobody_takes_a_coupon_for_another_user(shop: Api, aws: Any, who: dict[str, Any]) -> None:
    refused(shop, aws, 403, "CouponIssueFunction", "POST", "/coupons/c-welcome/issue", {"userId": OTHER}, **who)


def test_a_coupon_issue_without_a_caller_is_401(shop: Api, aws: Any) -> None:
    refused(shop, aws, 401, "CouponIssueFunction", "POST", "/coupons/c-welcome/issue", {"userId": USER}, caller=None)


# ---------------------------------------------------------------- ordering


ORDER = {"items": [{"productId": "p-mouse", "quantity": 1}]}


def test_an_order_is_the_callers_named_or_left_out(shop: Api) -> None:
    status, placed = shop.call("OrderPlacementFunction", "POST", "/orders", ORDER, **as_user(USER))
    assert (status, placed["userId"]) == (201, USER), placed
    named = {**ORDER, "userId": OTHER}
    status, placed = shop.call("OrderPlacementFunction", "POST", "/orders", named, **as_user(OTHER))
    assert (status, placed["userId"]) == (201, OTHER), placed
    balance = shop.call("BalanceInquiryFunction", "GET", f"/users/{USER}/balance", **as_user(USER))[1]["balance"]
    assert balance == BALANCES[USER] - placed["paidAmount"]


@pytest.mark.parametrize("who", [as_user(USER), as_user(ADMIN, admin=True)], ids=["user", "admin"])
def test_nobody_spends_another_users_balance(shop: Api, aws: Any, who: dict[str, Any]) -> None:
    refused(shop, aws, 403, "OrderPlacementFunction", "POST", "/orders", {**ORDER, "userId": OTHER}, **who)


def test_an_order_without_a_caller_is_401(shop: Api, aws: Any) -> None:
    refused(shop, aws, 401, "OrderPlacementFunction", "POST", "/orders", {**ORDER, "userId": USER}, caller=None)


def test_a_coupon_of_another_user_cannot_pay_an_order(shop: Api, aws: Any) -> None:
    issued = shop.call("CouponIssueFunction", "POST", "/coupons/c-welcome/issue", {}, **as_user(OTHER))[1]
    before = snapshot(aws)
    body = {**ORDER, "issuedCouponId": issued["issuedCouponId"]}
    status, answer = shop.call("OrderPlacementFunction", "POST", "/orders", body, **as_user(USER))
    assert (status, answer["code"]) == (409, "INVALID_COUPON")
    assert snapshot(aws) == before


# ---------------------------------------------------------------- catalogue administration

ADMIN_ROUTES = [
    ("POST", "/products", {"name": "Lamp", "price": 1_000, "stock": 1}, 201),
    ("POST", "/products/p-mouse/stock", {"quantity": 5}, 200),
    (
        "POST",
        "/coupons",
        {"name": "X", "discount": {"type": "PERCENT", "rate": 100}, "totalQuantity": 9, "validDays": 1},
        201,
    ),
    ("GET", "/coupons/c-welcome", None, 200),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "success"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p, *_ in ADMIN_ROUTES]
)
def test_catalogue_administration_needs_an_admin(
    shop: Api, aws: Any, method: str, path: str, body: Any, success: int
) -> None:
    refused(shop, aws, 403, ADMIN_FN, method, path, body, **as_user(USER))
    refused(shop, aws, 401, ADMIN_FN, method, path, body, **as_user(None))
    status, answer = shop.call(ADMIN_FN, method, path, body, **as_user(ADMIN, admin=True))
    assert status == success, answer


@pytest.mark.parametrize(
    ("method", "path", "body", "success"), ADMIN_ROUTES[:3], ids=[p for _, p, *_ in ADMIN_ROUTES[:3]]
)
def test_a_non_admin_is_refused_before_the_body_is_read(
    shop: Api, aws: Any, method: str, path: str, body: Any, success: int
) -> None:
    refused(shop, aws, 403, ADMIN_FN, method, path, {"surprise": 1}, **as_user(USER))


# ---------------------------------------------------------------- public routes


@pytest.mark.parametrize(
    ("fn", "path"),
    [
        ("ProductInquiryFunction", "/products"),
        ("ProductInquiryFunction", "/products/p-mouse"),
        ("PopularProductsFunction", "/products/popular"),
    ],
)
def test_the_catalogue_and_the_ranking_need_no_caller(shop: Api, fn: str, path: str) -> None:
    assert shop.call(fn, "GET", path)[0] == 200


# ---------------------------------------------------------------- reading the caller


def authorized(context: Any) -> dict[str, Any]:
    return {"requestContext": {"authorizer": {"lambda": context}}}


def test_the_caller_is_read_from_the_authorizers_context() -> None:
    assert caller_of(authorized({"sub": "u1", "admin": False})) == Caller("u1", False)
    assert caller_of(authorized({"sub": "u1", "admin": True})) == Caller("u1", True)
    assert caller_of(authorized({"sub": "u1", "admin": "true"})) == Caller("u1", True)
    assert caller_of(authorized({"sub": "u1"})) == Caller("u1", False)
    for not_admin in ("false", "yes", 1, None, [True]):
        assert caller_of(authorized({"sub": "u1", "admin": not_admin})) == Caller("u1", False)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"requestContext": None},
        {"requestContext": {}},
        {"requestContext": {"authorizer": None}},
        {"requestContext": {"authorizer": "x"}},
        {"requestContext": {"authorizer": {"jwt": {"claims": {"sub": "u1"}}}}},
        authorized(None),
        authorized({}),
        authorized({"sub": ""}),
        authorized({"sub": 7}),
        authorized({"sub": "u1\n"}),
        authorized({"sub": "a/b"}),
        authorized("u1"),
    ],
)
def test_no_caller_without_a_subject_from_the_authorizer(event: dict[str, Any]) -> None:
    assert caller_of(event) is None
