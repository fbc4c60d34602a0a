"""Balance inquiry and charge: the contract's rows, the cap, and refusals that change nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shop.models.balance import BALANCE_LIMIT, MAX_CHARGE
from shop.repositories import dynamodb
from shop.repositories.balances import BalanceRepository

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
    status, answer = api.call(CHARGE, "POST", f"/users/{user_id}/balance/charge", {"amount": 100}, caller=user_id)
    assert (status, answer["code"]) == (400, "INVALID_REQUEST")
    status, answer = api.call(INQUIRY, "GET", f"/users/{user_id}/balance", caller=user_id)
    assert (status, answer["code"]) == (400, "INVALID_REQUEST")


class FlakyTable:
    """A table whose update_item answers the given error codes first, then applies the update."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes
        self.calls = 0

    def update_item(self, **update: Any) -> dict[str, Any]:
        self.calls += 1
        if self.codes:
            code = self.codes.pop(0)
            raise ClientError({"Error": {"Code": code, "Message": code}}, "UpdateItem")
        return {"Attributes": {"balance": 1_000}}


def flaky(monkeypatch: pytest.MonkeyPatch, codes: list[str]) -> FlakyTable:
    table = FlakyTable(codes)

    class Resource:
        def Table(self, name: str) -> FlakyTable:
            return table

    monkeypatch.setattr(dynamodb, "_resource", lambda endpoint, single_attempt=False: Resource())
    return table


def test_a_charge_whose_answer_was_lost_is_not_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ADD sent twice adds twice: after an answer that does not say the charge was not applied,
    the charge is not resent (the client sees a 500 and can check its balance)."""
    table = flaky(monkeypatch, ["InternalServerError"])
    with pytest.raises(ClientError):
        BalanceRepository().add("u", 1_000, BALANCE_LIMIT)
    assert table.calls == 1


def test_a_throttled_charge_is_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    table = flaky(monkeypatch, ["ProvisionedThroughputExceededException", "ThrottlingException"])
    monkeypatch.setattr(dynamodb.time, "sleep", lambda _: None)
    assert BalanceRepository().add("u", 1_000, BALANCE_LIMIT) == 1_000
    assert table.calls == 3


def test_the_charge_client_makes_a_single_attempt() -> None:
    """botocore itself must not resend the charge either."""
    dynamodb.reset_clients()
    config = dynamodb.single_attempt_resource().meta.client.meta.config
    assert config.retries["total_max_attempts"] == 1
