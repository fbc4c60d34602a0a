"""Balance inquiry and charge: the contract's rows, the cap, and refusals that change nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shop.models.balance import BALANCE_LIMIT, MAX_CHARGE

INQUIRY = "BalanceInquiryFunction"
CHARGE = "BalanceChargeFunction"


def balance_of(api: Any, user_id: str) -> int:
    status, body = api.call(INQUIRY, "GET", f"/users/{user_id}/balance", caller=user_id)
    assert status == 200, body
    assert body["userId"] == user_id
    return int(body["balance"])


def test_a_user_never_charged_has_balance_zero(api: Any) -> None:
    assert api.call(INQUIRY, "GET", "/users/newcomer/balance", caller="newcomer") == (
        200,
        {"userId": "newcomer", "balance": 0},
    )


def test_a_charge_answers_the_new_balance_and_adds_up(api: Any) -> None:
    assert api.call(CHARGE, "POST", "/users/u1/balance/charge", {"amount": 1_000}, caller="u1") == (
        200,
        {"userId": "u1", "balance": 1_000},
    )
    assert api.call(CHARGE, "POST", "/users/u1/balance/charge", {"amount": 2_500}, caller="u1")[1]["balance"] == 3_500
    assert balance_of(api, "u1") == 3_500
    assert balance_of(api, "u2") == 0


@pytest.mark.parametrize("amount", [1, MAX_CHARGE])
def test_the_bounds_of_the_amount_are_accepted(api: Any, amount: int) -> None:
    assert api.call(CHARGE, "POST", "/users/u1/balance/charge", {"amount": amount}, caller="u1") == (
        200,
        {"userId": "u1", "balance": amount},
    )


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0},
        {"amount": -1},
        {"amount": MAX_CHARGE + 1},
        {"amount": "100"},
        {"amount": 10.5},
        {"amount": 0.0},
        {"amount": 1_000_001.0},
        {"amount": True},
        {"amount": None},
        {"amount": 10**40},
        {},
        {"amount": 100, "userId": "u1"},
        [100],
        "100",
        None,
    ],
)
def test_an_amount_that_is_not_an_integer_in_range_is_refused_and_changes_nothing(api: Any, body: Any) -> None:
    status, answer = api.call(CHARGE, "POST", "/users/u1/balance/charge", raw_body=json.dumps(body), caller="u1")
    assert status == 400
    assert answer["code"] == "INVALID_REQUEST"
    assert answer["message"]
    assert balance_of(api, "u1") == 0


@pytest.mark.parametrize("raw", ["100.0", "1e2", "1.00E+2", "100.000"])
def test_an_integral_amount_written_with_a_fraction_or_exponent_is_an_integer(api: Any, raw: str) -> None:
    """JSON Schema's integer: a number with no fractional part, however it is written."""
    status, answer = api.call(CHARGE, "POST", "/users/u1/balance/charge", raw_body=f'{{"amount": {raw}}}', caller="u1")
    assert (status, answer) == (200, {"userId": "u1", "balance": 100})
    assert balance_of(api, "u1") == 100


def test_the_refusal_message_names_the_field(api: Any) -> None:
    status, answer = api.call(CHARGE, "POST", "/users/u1/balance/charge", {"amount": "100"}, caller="u1")
    assert status == 400
    assert "amount" in answer["message"]


def test_a_body_that_is_not_json_is_refused(api: Any) -> None:
    status, answer = api.call(CHARGE, "POST", "/users/u1/balance/charge", raw_body="{amount: 5", caller="u1")
    assert (status, answer["code"]) == (400, "INVALID_REQUEST")


def test_the_balance_may_reach_the_cap_exactly(api: Any) -> None:
    for _ in range(BALANCE_LIMIT // MAX_CHARGE):
        assert api.call(CHARGE, "POST", "/users/rich/balance/charge", {"amount": MAX_CHARGE}, caller="rich")[0] == 200
    assert balance_of(api, "rich") == BALANCE_LIMIT


def test_a_charge_past_the_cap_is_refused_and_changes_nothing(api: Any) -> None:
    for _ in range(9):
        api.call(CHARGE, "POST", "/users/rich/balance/charge", {"amount": MAX_CHARGE}, caller="rich")
    assert api.call(CHARGE, "POST", "/users/rich/balance/charge", {"amount": 999_999}, caller="rich")[0] == 200
    status, answer = api.call(CHARGE, "POST", "/users/rich/balance/charge", {"amount": 2}, caller="rich")
    assert status == 409
    assert answer["code"] == "BALANCE_LIMIT_EXCEEDED"
    assert balance_of(api, "rich") == BALANCE_LIMIT - 1
    assert (
        api.call(CHARGE, "POST", "/users/rich/balance/charge", {"amount": 1}, caller="rich")[1]["balance"]
        == BALANCE_LIMIT
    )


@pytest.mark.parametrize("user_id", ["a.b", "x" * 65, "%E2%82%AC"])
def test_a_user_id_outside_the_id_pattern_is_refused(api: Any, user_id: str) -> None:
    # (as an admin: no verified caller has such an id, and an admin may name any user)
    status, answer = api.call(
        CHARGE, "POST", f"/users/{user_id}/balance/charge", {"amount": 100}, caller="ops", admin=True
    )
    assert (status, answer["code"]) == (400, "INVALID_REQUEST")
    status, answer = api.call(INQUIRY, "GET", f"/users/{user_id}/balance", caller="ops", admin=True)
    assert (status, answer["code"]) == (400, "INVALID_REQUEST")
