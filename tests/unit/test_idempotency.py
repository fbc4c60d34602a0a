"""Idempotency keys on the three POSTs, and changes whose answer was lost: applied at most once,
never a 500, the real outcome on a retry with the same key."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from shop.models.product import Product
from shop.repositories import dynamodb
from shop.repositories.balances import BalanceRepository
from shop.repositories.orders import OrderRepository
from shop.repositories.products import ProductRepository
from shop.services.balance import BalanceService
from shop.services.orders import OrderService
from tests.support.lambda_events import LambdaContext, http_event

CHARGE = "BalanceChargeFunction"
HISTORY = "BalanceHistoryFunction"
ORDER = "OrderPlacementFunction"
ISSUE = "CouponIssueFunction"
ADMIN = "CatalogueAdminFunction"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class ShortContext(LambdaContext):
    """A context with little time left: no room to send a lost transaction again."""

    remaining_millis: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def call(
    api: Any,
    function: str,
    path: str,
    body: Any,
    key: str | None,
    *,
    caller: str = "u1",
    remaining_millis: int = 10_000,
) -> Answer:
    headers = {"content-type": "application/json", **({"Idempotency-Key": key} if key is not None else {})}
    event = http_event("POST", path, body, headers=headers, caller=caller)
    answer = api.handler(function)(event, ShortContext(remaining_millis=remaining_millis))
    return Answer(answer["statusCode"], answer.get("headers") or {}, json.loads(answer["body"]))


def charge(api: Any, amount: int, key: str | None, **kwargs: Any) -> Answer:
    user = kwargs.get("caller", "u1")
    return call(api, CHARGE, f"/users/{user}/balance/charge", {"amount": amount}, key, **kwargs)


def entries(api: Any, user_id: str = "u1") -> list[dict[str, Any]]:
    status, page = api.call(HISTORY, "GET", f"/users/{user_id}/balance/history", query={"limit": "100"}, caller=user_id)
    assert status == 200
    return page["items"]  # type: ignore[no-any-return]


def balance_of(user_id: str = "u1") -> int:
    from shop.repositories.balances import BalanceRepository

    return BalanceRepository().get(user_id)


def test_the_same_key_and_body_replay_the_first_answer_and_charge_once(api: Any) -> None:
    first = charge(api, 7_000, "k-1")
    again = charge(api, 7_000, "k-1")
    assert (first.status, first.body) == (200, {"userId": "u1", "balance": 7_000})
    assert "Idempotent-Replayed" not in first.headers
    assert (again.status, again.body, again.headers["Idempotent-Replayed"]) == (200, first.body, "true")
    assert balance_of() == 7_000
    assert len(entries(api)) == 1
    assert charge(api, 7_000, "k-2").body["balance"] == 14_000
    assert charge(api, 7_000, None).body["balance"] == 21_000


def test_a_refusal_is_replayed_too(api: Any) -> None:
    for i in range(10):
        charge(api, 1_000_000, f"fill-{i}")
    refused = charge(api, 1, "late")
    assert (refused.status, refused.body["code"]) == (409, "BALANCE_LIMIT_EXCEEDED")
    replay = charge(api, 1, "late")
    assert (replay.status, replay.body, replay.headers["Idempotent-Replayed"]) == (409, refused.body, "true")


def test_the_same_key_with_another_body_or_path_is_422(api: Any) -> None:
    assert charge(api, 1_000, "k").status == 200
    other_body = charge(api, 2_000, "k")
    assert (other_body.status, other_body.body["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    other_path = call(api, CHARGE, "/users/u1x/balance/charge", {"amount": 1_000}, "k")
    assert (other_path.status, other_path.body["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert balance_of() == 1_000


def test_keys_are_scoped_to_the_caller(api: Any) -> None:
    assert charge(api, 1_000, "shared", caller="a").body == {"userId": "a", "balance": 1_000}
    assert charge(api, 1_000, "shared", caller="b").body == {"userId": "b", "balance": 1_000}
    assert (balance_of("a"), balance_of("b")) == (1_000, 1_000)


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "key\n"])
def test_a_key_outside_1_to_255_printable_ascii_is_400_and_changes_nothing(api: Any, key: str) -> None:
    answer = charge(api, 1_000, key)
    assert (answer.status, answer.body["code"]) == (400, "INVALID_REQUEST")
    assert "Idempotency-Key" in answer.body["message"]
    assert balance_of() == 0


def test_a_key_of_255_printable_characters_is_taken(api: Any) -> None:
    assert charge(api, 1_000, "~ !" + "x" * 252).status == 200


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
def test_a_refused_key_is_answered_by_the_key_check_not_the_resolver(api: Any, key: str) -> None:
    """The routes declare the header for the OpenAPI document; the key check still gives the
    answer, with its own message, on each of the three POSTs."""
    from shop.api.idempotency import INVALID_KEY

    answers = [
        charge(api, 1_000, key),
        call(api, ORDER, "/orders", {"items": [{"productId": "p1", "quantity": 1}]}, key),
        call(api, ISSUE, "/coupons/c1/issue", {}, key),
    ]
    for answer in answers:
        assert (answer.status, answer.body) == (400, {"code": "INVALID_REQUEST", "message": INVALID_KEY})


def test_a_key_with_spaces_around_it_is_taken_as_the_key_check_says(api: Any) -> None:
    """The document asks for no spaces around a key (HTTP drops them), but the resolver's
    validation of the declared header refuses nothing the key check takes."""
    first = charge(api, 1_000, " k ")
    assert (first.status, first.body) == (200, {"userId": "u1", "balance": 1_000})
    assert charge(api, 1_000, " k ").headers["Idempotent-Replayed"] == "true"


class BlockingClient:
    """The real client, except that the first transaction waits until `release` is set."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.entered = threading.Event()
        self.release = threading.Event()
        self.blocked = False

    def transact_write_items(self, **call: Any) -> Any:
        if not self.blocked:
            self.blocked = True
            self.entered.set()
            self.release.wait(10)
        return self.real.transact_write_items(**call)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_the_same_key_while_the_first_runs_is_409_in_progress(api: Any) -> None:
    blocking = BlockingClient(dynamodb.client())
    api.serve(CHARGE, BalanceService(BalanceRepository(client=blocking)))
    answers: list[Answer] = []
    first = threading.Thread(target=lambda: answers.append(charge(api, 5_000, "slow")))
    first.start()
    assert blocking.entered.wait(10)
    during = charge(api, 5_000, "slow")
    blocking.release.set()
    first.join(10)
    assert (during.status, during.body["code"]) == (409, "IDEMPOTENCY_IN_PROGRESS")
    assert answers[0].status == 200
    assert charge(api, 5_000, "slow").headers["Idempotent-Replayed"] == "true"
    assert balance_of() == 5_000


class LosingClient:
    """The real client, except that the first `lose` transactions are applied but their answer is
    lost (a read timeout), and after that `fail` more are not applied and time out too."""

    def __init__(self, real: Any, lose: int = 1, fail: int = 0) -> None:
        self.real, self.lose, self.fail = real, lose, fail
        self.tokens: list[str] = []

    def transact_write_items(self, **call: Any) -> Any:
        self.tokens.append(call["ClientRequestToken"])
        if self.lose:
            self.lose -= 1
            self.real.transact_write_items(**call)
            raise ReadTimeoutError(endpoint_url="http://dynamodb")
        if self.fail:
            self.fail -= 1
            raise ReadTimeoutError(endpoint_url="http://dynamodb")
        return self.real.transact_write_items(**call)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_charge_whose_answer_was_lost_is_resent_with_its_token_and_applied_once(api: Any) -> None:
    losing = LosingClient(dynamodb.client(), lose=1)
    api.serve(CHARGE, BalanceService(BalanceRepository(client=losing)))
    answer = charge(api, 7_000, None)
    assert (answer.status, answer.body) == (200, {"userId": "u1", "balance": 7_000})
    assert len(losing.tokens) == 2 and losing.tokens[0] == losing.tokens[1]
    assert balance_of() == 7_000
    assert [e["amount"] for e in entries(api)] == [7_000]


@pytest.mark.parametrize("applied", [True, False])
def test_an_unknown_outcome_is_503_and_a_retry_with_the_key_answers_the_real_one(api: Any, applied: bool) -> None:
    real = dynamodb.client()
    losing = LosingClient(real, lose=int(applied), fail=int(not applied))
    api.serve(CHARGE, BalanceService(BalanceRepository(client=losing)))
    unknown = charge(api, 7_000, "k", remaining_millis=2_000)
    assert (unknown.status, unknown.body["code"]) == (503, "OUTCOME_UNKNOWN")
    assert int(unknown.headers["Retry-After"]) >= 1
    assert balance_of() == (7_000 if applied else 0)
    assert charge(api, 1_000, None).status == 200  # another charge meanwhile
    retry = charge(api, 7_000, "k")
    # the balance this charge made: before the other one if it was applied then, after it if not
    assert (retry.status, retry.body) == (200, {"userId": "u1", "balance": 7_000 if applied else 8_000})
    assert "Idempotent-Replayed" not in retry.headers
    assert balance_of() == 8_000
    assert sorted(e["amount"] for e in entries(api)) == [1_000, 7_000]
    assert charge(api, 7_000, "k").headers["Idempotent-Replayed"] == "true"


def test_an_order_whose_outcome_was_unknown_is_answered_on_a_retry_with_its_key(api: Any) -> None:
    ProductRepository().create(Product(product_id="pen", name="Pen", price=1_500, stock=1))
    assert charge(api, 10_000, None).status == 200
    losing = LosingClient(dynamodb.client(), lose=1)
    api.serve(ORDER, OrderService(orders=OrderRepository(client=losing)))
    body = {"userId": "u1", "items": [{"productId": "pen", "quantity": 1}]}
    unknown = call(api, ORDER, "/orders", body, "o-key", remaining_millis=2_000)
    assert (unknown.status, unknown.body["code"]) == (503, "OUTCOME_UNKNOWN")
    retry = call(api, ORDER, "/orders", body, "o-key")  # the pen is sold out by now: by this order
    assert retry.status == 201, retry.body
    assert (retry.body["paidAmount"], retry.body["items"][0]["quantity"]) == (1_500, 1)
    assert balance_of() == 8_500
    latest = entries(api)[0]
    assert (latest["type"], latest["orderId"]) == ("PAYMENT", retry.body["orderId"])
    without_key = call(api, ORDER, "/orders", body, None)
    assert (without_key.status, without_key.body["code"]) == (409, "OUT_OF_STOCK")


def test_a_coupon_issue_takes_a_key_too(api: Any) -> None:
    campaign = {"name": "Deal", "discount": {"type": "FIXED", "amount": 1_000}, "totalQuantity": 1, "validDays": 7}
    coupon_id = api.call(ADMIN, "POST", "/coupons", campaign, caller="admin", admin=True)[1]["couponId"]
    first = call(api, ISSUE, f"/coupons/{coupon_id}/issue", {"userId": "u1"}, "c-key")
    again = call(api, ISSUE, f"/coupons/{coupon_id}/issue", {"userId": "u1"}, "c-key")
    assert first.status == 201
    assert (again.status, again.body, again.headers["Idempotent-Replayed"]) == (201, first.body, "true")


def test_a_read_the_database_does_not_answer_is_503_never_500(api: Any) -> None:
    def silent(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="http://dynamodb")

    events = dynamodb.resource().meta.client.meta.events
    events.register("request-created.dynamodb.GetItem", silent)
    try:
        status, body = api.call("BalanceInquiryFunction", "GET", "/users/u1/balance", caller="u1")
        assert (status, body["code"]) == (503, "OUTCOME_UNKNOWN")
        answer = charge(api, 1_000, None)
        assert (answer.status, answer.body["code"], answer.headers["Retry-After"]) == (503, "OUTCOME_UNKNOWN", "2")
    finally:
        events.unregister("request-created.dynamodb.GetItem", silent)
