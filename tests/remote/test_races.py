"""Races at a scale a shared stage takes (`RACE_CLIENTS`, 40 by default), counted exactly through
the API: how many succeeded, the code of every refusal, never a 5xx, and the state read back
(coupons issued and held, stock, balances and their histories)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from remote.users import TestUser
from tests.remote.conftest import RACE_CLIENTS, NewUser, as_, new_campaign, new_product
from tests.support.http import Client, no_server_errors, race

UNITS = 10
"""What the racers fight for: coupons of a campaign, units of a product, charges up to the cap."""


@pytest.fixture(scope="module")
def racers(new_user: NewUser) -> list[TestUser]:
    assert RACE_CLIENTS > UNITS, f"RACE_CLIENTS must be above {UNITS}"
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda _: new_user("racer"), range(RACE_CLIENTS)))


def test_racers_for_a_10_coupon_campaign_get_exactly_10(api: Client, admin: Client, racers: list[TestUser]) -> None:
    campaign = new_campaign(admin, quantity=UNITS)
    issue = f"/coupons/{campaign['couponId']}/issue"

    codes, answers = race([lambda r=r: as_(api, r).post(issue, {"userId": r.user_id}) for r in racers], RACE_CLIENTS)

    print(f"coupon race: {dict(codes)}")
    no_server_errors(answers)
    assert codes == Counter({"201": UNITS, "409 COUPON_SOLD_OUT": RACE_CLIENTS - UNITS})
    winners = {answer.body["userId"] for answer in answers if answer.status == 201}
    assert len(winners) == UNITS
    assert admin.ok("GET", f"/coupons/{campaign['couponId']}")["remainingQuantity"] == 0
    holders = {
        r.user_id
        for r in racers
        if any(c["couponId"] == campaign["couponId"] for c in admin.ok("GET", f"/users/{r.user_id}/coupons")["items"])
    }
    assert holders == winners


def test_racers_for_10_in_stock_buy_exactly_10(api: Client, admin: Client, racers: list[TestUser]) -> None:
    product = new_product(admin, price=1_000, stock=UNITS, label="limited")
    funded, funding = race(
        [lambda r=r: as_(api, r).post(f"/users/{r.user_id}/balance/charge", {"amount": 1_000}) for r in racers],
        RACE_CLIENTS,
    )
    assert funded == Counter({"200": RACE_CLIENTS}), funding[:3]
    balances_before = {r.user_id: admin.ok("GET", f"/users/{r.user_id}/balance")["balance"] for r in racers}
    line = {"productId": product["productId"], "quantity": 1}

    codes, answers = race([lambda r=r: as_(api, r).post("/orders", {"items": [line]}) for r in racers], RACE_CLIENTS)

    print(f"stock race: {dict(codes)}")
    no_server_errors(answers)
    assert codes == Counter({"201": UNITS, "409 OUT_OF_STOCK": RACE_CLIENTS - UNITS})
    assert admin.ok("GET", f"/products/{product['productId']}")["stock"] == 0
    buyers = {answer.body["userId"] for answer in answers if answer.status == 201}
    assert len(buyers) == UNITS
    for r in racers:
        orders = [
            o
            for o in admin.ok("GET", f"/users/{r.user_id}/orders?limit=100")["items"]
            if o["items"][0]["productId"] == product["productId"]
        ]
        paid = 1_000 if r.user_id in buyers else 0
        assert len(orders) == (1 if paid else 0), r.user_id
        assert admin.ok("GET", f"/users/{r.user_id}/balance")["balance"] == balances_before[r.user_id] - paid


def test_charges_racing_on_one_balance_stop_exactly_at_the_cap(me: Client, user: TestUser) -> None:
    charge = f"/users/{user.user_id}/balance/charge"

    codes, answers = race([lambda: me.post(charge, {"amount": 1_000_000})] * RACE_CLIENTS, RACE_CLIENTS)

    print(f"charge race: {dict(codes)}")
    no_server_errors(answers)
    assert codes == Counter({"200": UNITS, "409 BALANCE_LIMIT_EXCEEDED": RACE_CLIENTS - UNITS})
    assert sorted(answer.body["balance"] for answer in answers if answer.status == 200) == [
        n * 1_000_000 for n in range(1, UNITS + 1)
    ]
    assert me.ok("GET", f"/users/{user.user_id}/balance")["balance"] == 10_000_000
    history = me.ok("GET", f"/users/{user.user_id}/balance/history?limit=100")
    assert [(e["type"], e["amount"]) for e in history["items"]] == [("CHARGE", 1_000_000)] * UNITS


def test_orders_racing_on_one_balance_spend_it_exactly(admin: Client, me: Client, user: TestUser) -> None:
    product = new_product(admin, price=300, stock=100, label="gum")
    me.ok("POST", f"/users/{user.user_id}/balance/charge", {"amount": 1_000})
    order = {"items": [{"productId": product["productId"], "quantity": 1}]}

    codes, answers = race([lambda: me.post("/orders", order)] * RACE_CLIENTS, RACE_CLIENTS)

    print(f"balance race: {dict(codes)}")
    no_server_errors(answers)
    assert codes == Counter({"201": 3, "409 INSUFFICIENT_BALANCE": RACE_CLIENTS - 3})
    assert me.ok("GET", f"/users/{user.user_id}/balance")["balance"] == 100
    assert admin.ok("GET", f"/products/{product['productId']}")["stock"] == 97
    assert len(me.ok("GET", f"/users/{user.user_id}/orders")["items"]) == 3
    history = me.ok("GET", f"/users/{user.user_id}/balance/history")["items"]
    assert Counter((e["type"], e["amount"]) for e in history) == Counter({("PAYMENT", 300): 3, ("CHARGE", 1_000): 1})


def test_one_user_racing_against_themselves_gets_one_coupon(admin: Client, me: Client, user: TestUser) -> None:
    campaign = new_campaign(admin, quantity=UNITS)
    issue = f"/coupons/{campaign['couponId']}/issue"

    codes, answers = race([lambda: me.post(issue, {"userId": user.user_id})] * RACE_CLIENTS, RACE_CLIENTS)

    print(f"self race: {dict(codes)}")
    no_server_errors(answers)
    assert codes == Counter({"201": 1, "409 COUPON_ALREADY_ISSUED": RACE_CLIENTS - 1})
    assert [c["couponId"] for c in me.ok("GET", f"/users/{user.user_id}/coupons")["items"]] == [campaign["couponId"]]
    assert admin.ok("GET", f"/coupons/{campaign['couponId']}")["remainingQuantity"] == UNITS - 1
