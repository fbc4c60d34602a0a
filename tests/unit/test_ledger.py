"""The ledger: one entry per committed charge and per paid order, in the same transaction as the
balance; the history and order routes, newest first, scoped to the caller."""

from __future__ import annotations

from typing import Any

import pytest

from shop.models.product import Product
from shop.repositories.products import ProductRepository

CHARGE = "BalanceChargeFunction"
HISTORY = "BalanceHistoryFunction"
ORDER = "OrderPlacementFunction"
ORDERS = "OrderInquiryFunction"
BALANCE = "BalanceInquiryFunction"


@pytest.fixture
def pens(api: Any) -> Any:
    ProductRepository().create(Product(product_id="pen", name="Pen", price=1_500, stock=100))
    return api


def charge(api: Any, user_id: str, amount: int) -> tuple[int, Any]:
    return api.call(CHARGE, "POST", f"/users/{user_id}/balance/charge", {"amount": amount}, caller=user_id)  # type: ignore[no-any-return]


def order(api: Any, user_id: str, quantity: int = 1) -> tuple[int, Any]:
    body = {"userId": user_id, "items": [{"productId": "pen", "quantity": quantity}]}
    return api.call(ORDER, "POST", "/orders", body, caller=user_id)  # type: ignore[no-any-return]


def history(api: Any, user_id: str, **query: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        status, page = api.call(HISTORY, "GET", f"/users/{user_id}/balance/history", query=params, caller=user_id)
        assert status == 200, page
        entries += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return entries


def balance(api: Any, user_id: str) -> int:
    return int(api.call(BALANCE, "GET", f"/users/{user_id}/balance", caller=user_id)[1]["balance"])


def test_every_charge_and_paid_order_is_one_entry_newest_first_and_they_add_up(pens: Any) -> None:
    for amount in (10_000, 2_000, 30_000):
        assert charge(pens, "u1", amount)[0] == 200
    status, placed = order(pens, "u1", quantity=3)
    assert status == 201
    entries = history(pens, "u1")
    assert [(e["type"], e["amount"], e.get("orderId")) for e in entries] == [
        ("PAYMENT", 4_500, placed["orderId"]),
        ("CHARGE", 30_000, None),
        ("CHARGE", 2_000, None),
        ("CHARGE", 10_000, None),
    ]
    assert len({e["entryId"] for e in entries}) == 4
    charged = sum(e["amount"] for e in entries if e["type"] == "CHARGE")
    paid = sum(e["amount"] for e in entries if e["type"] == "PAYMENT")
    assert charged - paid == balance(pens, "u1") == 37_500
    assert history(pens, "u2") == []


def test_a_refused_charge_or_order_writes_no_entry(pens: Any) -> None:
    assert charge(pens, "u1", 1_000)[0] == 200
    assert order(pens, "u1", quantity=1)[0] == 409  # 1,500 won: insufficient balance
    assert charge(pens, "rich", 1_000_000)[0] == 200
    for _ in range(9):
        charge(pens, "rich", 1_000_000)
    status, body = charge(pens, "rich", 1)
    assert (status, body["code"]) == (409, "BALANCE_LIMIT_EXCEEDED")
    assert [e["amount"] for e in history(pens, "u1")] == [1_000]
    assert len(history(pens, "rich")) == 10


def test_the_history_pages_with_a_cursor_and_refuses_a_forged_one(pens: Any) -> None:
    for amount in range(1, 8):
        charge(pens, "u1", amount)
    assert [e["amount"] for e in history(pens, "u1", limit="3")] == [7, 6, 5, 4, 3, 2, 1]
    status, body = pens.call(HISTORY, "GET", "/users/u1/balance/history", query={"cursor": "abc"}, caller="u1")
    assert (status, body["code"]) == (400, "INVALID_REQUEST")
    cursor = pens.call(HISTORY, "GET", "/users/u1/balance/history", query={"limit": "3"}, caller="u1")[1]["nextCursor"]
    status, body = pens.call(
        HISTORY, "GET", "/users/u1/balance/history", query={"cursor": f"{cursor}\n"}, caller="u1"
    )  # a cursor the API gave, with a trailing newline
    assert (status, body["code"]) == (400, "INVALID_REQUEST")
    status, body = pens.call(HISTORY, "GET", "/users/u1/balance/history", query={"limit": "0"}, caller="u1")
    assert (status, body["code"]) == (400, "INVALID_REQUEST")


def test_another_users_history_and_orders_are_forbidden_unless_admin(pens: Any) -> None:
    charge(pens, "u1", 5_000)
    for route, path in ((HISTORY, "/users/u1/balance/history"), (ORDERS, "/users/u1/orders")):
        status, body = pens.call(route, "GET", path, caller="u2")
        assert (status, body["code"]) == (403, "FORBIDDEN")
        assert pens.call(route, "GET", path, caller="u2", admin=True)[0] == 200
        assert pens.call(route, "GET", path, caller="u1")[0] == 200


def test_a_users_orders_newest_first_and_one_order_only_to_its_owner_or_an_admin(pens: Any) -> None:
    charge(pens, "u1", 100_000)
    placed = [order(pens, "u1", quantity=q)[1]["orderId"] for q in (1, 2, 3)]
    charge(pens, "u2", 100_000)
    other = order(pens, "u2")[1]["orderId"]
    listed: list[str] = []
    cursor: str | None = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, page = pens.call(ORDERS, "GET", "/users/u1/orders", query=query, caller="u1")
        assert status == 200
        listed += [o["orderId"] for o in page["items"]]
        assert all(o["userId"] == "u1" for o in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert listed == placed[::-1]
    status, body = pens.call(ORDERS, "GET", f"/orders/{placed[0]}", caller="u1")
    assert (status, body["orderId"], body["items"][0]["quantity"]) == (200, placed[0], 1)
    status, body = pens.call(ORDERS, "GET", f"/orders/{other}", caller="u1")
    assert (status, body["code"]) == (404, "ORDER_NOT_FOUND")
    assert pens.call(ORDERS, "GET", f"/orders/{other}", caller="admin", admin=True)[0] == 200
    status, body = pens.call(ORDERS, "GET", "/orders/nope", caller="u1")
    assert (status, body["code"]) == (404, "ORDER_NOT_FOUND")
    status, body = pens.call(ORDERS, "GET", "/orders/a.b", caller="u1")
    assert (status, body["code"]) == (400, "INVALID_REQUEST")
