"""Idempotency keys: a replay returns the first answer (refusals too) and changes nothing more;
the same key with another body is 422; keys are the caller's own."""

from __future__ import annotations

import uuid
from typing import Any

from remote.users import TestUser
from tests.remote.conftest import NewUser, as_, new_campaign, new_product
from tests.support.http import Client


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}


def test_a_charge_with_a_key_is_answered_once_and_replayed(me: Client, user: TestUser) -> None:
    charge = f"/users/{user.user_id}/balance/charge"
    key = _key()
    first = me.call("POST", charge, {"amount": 7_000}, headers=key)
    again = me.call("POST", charge, {"amount": 7_000}, headers=key)
    assert (first.status, first.body) == (200, {"userId": user.user_id, "balance": 7_000})
    assert (again.status, again.body, again.headers.get("Idempotent-Replayed")) == (200, first.body, "true")
    other = me.call("POST", charge, {"amount": 1}, headers=key)
    assert other.code == "422 IDEMPOTENCY_KEY_REUSED", other
    too_long = me.call("POST", charge, {"amount": 1}, headers={"Idempotency-Key": "x" * 256})
    assert too_long.code == "400 INVALID_REQUEST", too_long
    history = me.ok("GET", f"/users/{user.user_id}/balance/history")
    assert [(e["type"], e["amount"]) for e in history["items"]] == [("CHARGE", 7_000)]


def test_an_order_with_a_key_is_placed_once(admin: Client, me: Client, user: TestUser) -> None:
    product = new_product(admin, price=2_500, stock=10)
    me.ok("POST", f"/users/{user.user_id}/balance/charge", {"amount": 100_000})
    key = _key()
    body = {"userId": user.user_id, "items": [{"productId": product["productId"], "quantity": 1}]}
    placed = me.call("POST", "/orders", body, headers=key)
    assert placed.status == 201, placed
    replay = me.call("POST", "/orders", body, headers=key)
    assert (replay.status, replay.body, replay.headers.get("Idempotent-Replayed")) == (201, placed.body, "true")
    assert [o["orderId"] for o in me.ok("GET", f"/users/{user.user_id}/orders")["items"]] == [placed.body["orderId"]]
    assert me.ok("GET", f"/users/{user.user_id}/balance")["balance"] == 100_000 - 2_500
    assert me.ok("GET", f"/products/{product['productId']}")["stock"] == 9
    reused = me.call("POST", "/orders", {**body, "items": [{"productId": product["productId"], "quantity": 2}]}, key)
    assert reused.code == "422 IDEMPOTENCY_KEY_REUSED", reused


def test_a_refusal_is_replayed_too(admin: Client, me: Client, user: TestUser) -> None:
    product = new_product(admin, price=2_500, stock=10)
    key = _key()
    body = {"items": [{"productId": product["productId"], "quantity": 1}]}
    refused = me.call("POST", "/orders", body, headers=key)
    assert refused.code == "409 INSUFFICIENT_BALANCE", refused
    me.ok("POST", f"/users/{user.user_id}/balance/charge", {"amount": 10_000})
    replay = me.call("POST", "/orders", body, headers=key)
    assert (replay.code, replay.body, replay.headers.get("Idempotent-Replayed")) == (
        "409 INSUFFICIENT_BALANCE",
        refused.body,
        "true",
    )
    assert me.ok("GET", f"/users/{user.user_id}/orders")["items"] == []
    assert me.ok("GET", f"/users/{user.user_id}/balance")["balance"] == 10_000


def test_a_coupon_issue_with_a_key_is_replayed(admin: Client, me: Client, user: TestUser) -> None:
    campaign = new_campaign(admin, quantity=3)
    issue = f"/coupons/{campaign['couponId']}/issue"
    key = _key()
    first = me.call("POST", issue, {"userId": user.user_id}, headers=key)
    again = me.call("POST", issue, {"userId": user.user_id}, headers=key)
    assert first.status == 201, first
    assert (again.status, again.body, again.headers.get("Idempotent-Replayed")) == (201, first.body, "true")
    assert admin.ok("GET", f"/coupons/{campaign['couponId']}")["remainingQuantity"] == 2


def test_a_key_is_the_callers_own(api: Client, me: Client, user: TestUser, new_user: NewUser) -> None:
    other = new_user("other")
    key = _key()
    mine: Any = me.call("POST", f"/users/{user.user_id}/balance/charge", {"amount": 100}, headers=key)
    theirs = as_(api, other).call("POST", f"/users/{other.user_id}/balance/charge", {"amount": 200}, headers=key)
    assert (mine.status, theirs.status) == (200, 200), (mine, theirs)
    assert theirs.body == {"userId": other.user_id, "balance": 200}
    assert "Idempotent-Replayed" not in theirs.headers
