"""Balance: a new user's zero, charges and their history, the cap, and the amounts refused."""

from __future__ import annotations

from typing import Any

import pytest

from remote.users import TestUser
from tests.support.http import Client

CAP = 10_000_000
MOST_A_CHARGE = 1_000_000


def test_a_user_never_charged_has_balance_0_and_no_history(me: Client, user: TestUser) -> None:
    assert me.ok("GET", f"/users/{user.user_id}/balance") == {"userId": user.user_id, "balance": 0}
    assert me.ok("GET", f"/users/{user.user_id}/balance/history") == {"items": [], "nextCursor": None}


def test_charges_add_up_and_each_is_one_entry_of_the_history_newest_first(me: Client, user: TestUser) -> None:
    path = f"/users/{user.user_id}/balance"
    assert me.ok("POST", f"{path}/charge", {"amount": 5_000}) == {"userId": user.user_id, "balance": 5_000}
    assert me.ok("POST", f"{path}/charge", {"amount": 1}) == {"userId": user.user_id, "balance": 5_001}
    assert me.ok("GET", path)["balance"] == 5_001
    history = me.ok("GET", f"{path}/history")
    assert [(entry["type"], entry["amount"]) for entry in history["items"]] == [("CHARGE", 1), ("CHARGE", 5_000)]
    assert all(entry["entryId"] and entry["at"] for entry in history["items"])
    first = me.ok("GET", f"{path}/history?limit=1")
    assert [entry["amount"] for entry in first["items"]] == [1] and first["nextCursor"]
    rest = me.ok("GET", f"{path}/history?limit=1&cursor={first['nextCursor']}")
    assert [entry["amount"] for entry in rest["items"]] == [5_000]


def test_the_balance_stops_at_the_cap_and_a_refused_charge_changes_nothing(me: Client, user: TestUser) -> None:
    path = f"/users/{user.user_id}/balance"
    for n in range(1, CAP // MOST_A_CHARGE + 1):
        assert me.ok("POST", f"{path}/charge", {"amount": MOST_A_CHARGE})["balance"] == n * MOST_A_CHARGE
    refused = me.post(f"{path}/charge", {"amount": 1})
    assert refused.code == "409 BALANCE_LIMIT_EXCEEDED", refused
    assert me.ok("GET", path)["balance"] == CAP
    assert len(me.ok("GET", f"{path}/history?limit=100")["items"]) == CAP // MOST_A_CHARGE


INVALID_AMOUNTS: dict[str, Any] = {
    "zero": {"amount": 0},
    "negative": {"amount": -1},
    "over a million": {"amount": MOST_A_CHARGE + 1},
    "a string": {"amount": "100"},
    "a fraction": {"amount": 10.5},
    "a boolean": {"amount": True},
    "null": {"amount": None},
    "missing": {},
    "an unknown field": {"amount": 5, "currency": "KRW"},
    "not an object": [5],
}


@pytest.mark.parametrize("body", INVALID_AMOUNTS.values(), ids=INVALID_AMOUNTS.keys())
def test_an_invalid_amount_is_400_and_moves_no_money(me: Client, user: TestUser, body: Any) -> None:
    answer = me.post(f"/users/{user.user_id}/balance/charge", body)
    assert answer.code == "400 INVALID_REQUEST", answer
    assert len(answer.body["message"]) <= 300
    assert me.ok("GET", f"/users/{user.user_id}/balance")["balance"] == 0
