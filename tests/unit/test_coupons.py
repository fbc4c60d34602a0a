"""First-come-first-served issuance and the user's coupon list."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shop import clock
from shop.models.coupon import CouponShard
from shop.repositories.coupons import CouponRepository
from shop.services.coupons import CouponService
from tests.support.clock import SetClock

ADMIN = "CatalogueAdminFunction"
ISSUE = "CouponIssueFunction"
LIST = "UserCouponsFunction"
ORDER = "OrderPlacementFunction"


def campaign(api: Any, quantity: int = 10, valid_days: int = 3, discount: dict[str, Any] | None = None) -> str:
    body = {
        "name": "Flash",
        "discount": discount or {"type": "FIXED", "amount": 1_000},
        "totalQuantity": quantity,
        "validDays": valid_days,
    }
    status, coupon = api.call(ADMIN, "POST", "/coupons", body, caller="admin", admin=True)
    assert status == 201, coupon
    return str(coupon["couponId"])


def remaining(api: Any, coupon_id: str) -> int:
    return int(api.call(ADMIN, "GET", f"/coupons/{coupon_id}", caller="admin", admin=True)[1]["remainingQuantity"])


def test_an_issued_coupon_is_answered_with_its_campaign_and_validity(api: Any) -> None:
    coupon_id = campaign(api, valid_days=3)
    status, issued = api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": "u1"}, caller="u1")
    assert status == 201, issued
    assert issued["couponId"] == coupon_id
    assert issued["userId"] == "u1"
    assert issued["name"] == "Flash"
    assert issued["discount"] == {"type": "FIXED", "amount": 1_000}
    assert issued["status"] == "AVAILABLE"
    issued_at = datetime.fromisoformat(issued["issuedAt"])
    assert issued_at.utcoffset() == timedelta(hours=9)
    assert datetime.fromisoformat(issued["expiresAt"]) - issued_at == timedelta(days=3)
    assert remaining(api, coupon_id) == 9


def test_the_last_coupon_goes_to_the_first_and_the_next_is_sold_out(api: Any) -> None:
    coupon_id = campaign(api, quantity=2)
    assert api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": "a"}, caller="a")[0] == 201
    assert api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": "b"}, caller="b")[0] == 201
    status, body = api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": "c"}, caller="c")
    assert (status, body["code"]) == (409, "COUPON_SOLD_OUT")
    assert remaining(api, coupon_id) == 0
    assert api.call(LIST, "GET", "/users/c/coupons", caller="c") == (200, {"items": []})


def test_a_user_holds_at_most_one_coupon_of_a_campaign(api: Any) -> None:
    coupon_id = campaign(api, quantity=5)
    first = api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": "u1"}, caller="u1")[1]
    status, body = api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": "u1"}, caller="u1")
    assert (status, body["code"]) == (409, "COUPON_ALREADY_ISSUED")
    assert remaining(api, coupon_id) == 4
    assert api.call(LIST, "GET", "/users/u1/coupons", caller="u1")[1]["items"] == [first]


def test_the_transaction_refuses_a_sold_out_campaign_even_when_the_read_saw_some_left(api: Any) -> None:
    from shop.errors import ShardSoldOut
    from shop.ids import issued_coupon_id
    from shop.models.coupon import IssuedCoupon
    from shop.repositories.coupons import CouponRepository

    coupon_id = campaign(api, quantity=1)
    assert api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": "a"}, caller="a")[0] == 201
    now = clock.now()
    late = IssuedCoupon(
        issued_coupon_id=issued_coupon_id(coupon_id, "b"),
        coupon_id=coupon_id,
        user_id="b",
        name="Flash",
        discount={"type": "FIXED", "amount": 1_000},
        status="AVAILABLE",
        issued_at=now,
        expires_at=now + timedelta(days=1),
    )
    with pytest.raises(ShardSoldOut):
        CouponRepository().issue(late)
    assert remaining(api, coupon_id) == 0
    assert api.call(LIST, "GET", "/users/b/coupons", caller="b")[1]["items"] == []


def test_issuing_from_an_unknown_campaign_is_404(api: Any) -> None:
    status, body = api.call(ISSUE, "POST", "/coupons/nope/issue", {"userId": "u1"}, caller="u1")
    assert (status, body["code"]) == (404, "COUPON_NOT_FOUND")


@pytest.mark.parametrize("body", [{"userId": ""}, {"userId": "a.b"}, {"userId": 7}, {"userId": "u", "x": 1}])
def test_an_invalid_issue_request_is_refused_and_spends_nothing(api: Any, body: dict[str, Any]) -> None:
    coupon_id = campaign(api, quantity=3)
    status, answer = api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", body, caller="u")
    assert (status, answer["code"]) == (400, "INVALID_REQUEST")
    assert remaining(api, coupon_id) == 3


def test_the_list_holds_each_coupon_of_the_user_newest_first(api: Any) -> None:
    first, second = campaign(api), campaign(api)
    start = clock.now()
    now = SetClock(start)
    api.serve(ISSUE, CouponService(now=now))
    api.serve(LIST, CouponService(now=now))
    api.call(ISSUE, "POST", f"/coupons/{first}/issue", {"userId": "u1"}, caller="u1")
    now.set(start + timedelta(minutes=1))
    api.call(ISSUE, "POST", f"/coupons/{second}/issue", {"userId": "u1"}, caller="u1")
    api.call(ISSUE, "POST", f"/coupons/{second}/issue", {"userId": "u2"}, caller="u2")
    status, body = api.call(LIST, "GET", "/users/u1/coupons", caller="u1")
    assert status == 200
    assert [c["couponId"] for c in body["items"]] == [second, first]
    assert {c["userId"] for c in body["items"]} == {"u1"}


def test_a_coupon_past_its_validity_is_listed_as_expired(api: Any) -> None:
    coupon_id = campaign(api, valid_days=2)
    issued = api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": "u1"}, caller="u1")[1]
    expires_at = datetime.fromisoformat(issued["expiresAt"])
    now = SetClock(expires_at - timedelta(seconds=1))
    api.serve(LIST, CouponService(now=now))
    assert api.call(LIST, "GET", "/users/u1/coupons", caller="u1")[1]["items"][0]["status"] == "AVAILABLE"
    now.set(expires_at)
    assert api.call(LIST, "GET", "/users/u1/coupons", caller="u1")[1]["items"][0]["status"] == "EXPIRED"


def test_a_used_coupon_is_listed_as_used(api: Any, seeded: None) -> None:
    coupon_id = campaign(api)
    issued = api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": "user-1"}, caller="user-1")[1]
    order = {
        "userId": "user-1",
        "items": [{"productId": "p-mouse", "quantity": 1}],
        "issuedCouponId": issued["issuedCouponId"],
    }
    assert api.call(ORDER, "POST", "/orders", order, caller="user-1")[0] == 201
    assert api.call(LIST, "GET", "/users/user-1/coupons", caller="user-1")[1]["items"][0]["status"] == "USED"


def test_a_user_with_no_coupons_gets_an_empty_list(api: Any) -> None:
    assert api.call(LIST, "GET", "/users/nobody/coupons", caller="nobody") == (200, {"items": []})


class Contended:
    """A client whose every issue transaction conflicts with a concurrent one, however often it is retried."""

    def transact_write_items(self, **_: Any) -> None:
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
            },
            "TransactWriteItems",
        )


def no_pause(_: float) -> None:
    pass


def test_a_contended_issue_that_gives_up_is_asked_to_retry(api: Any) -> None:
    coupon_id = campaign(api, quantity=5)
    api.serve(ISSUE, CouponService(CouponRepository(client=Contended(), sleep=no_pause)))
    status, body = api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": "u1"}, caller="u1")
    assert (status, body["code"]) == (409, "CONCURRENT_UPDATE")
    assert remaining(api, coupon_id) == 5


class SoldOutMeanwhile(CouponRepository):
    """Contended transactions, and a read of every shard that finds them empty."""

    def __init__(self) -> None:
        super().__init__(client=Contended(), sleep=no_pause)
        self.reads: list[str] = []

    def shards(self, coupon_id: str, count: int, *, consistent: bool = True) -> list[CouponShard]:
        self.reads.append(coupon_id)
        found = super().shards(coupon_id, count, consistent=consistent)
        return [s.model_copy(update={"remaining_quantity": 0}) for s in found]


def test_a_contended_issue_of_a_campaign_sold_out_meanwhile_is_sold_out(api: Any) -> None:
    coupon_id = campaign(api, quantity=1)
    coupons = SoldOutMeanwhile()
    reads = coupons.reads
    api.serve(ISSUE, CouponService(coupons))
    status, body = api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": "u1"}, caller="u1")
    assert (status, body["code"]) == (409, "COUPON_SOLD_OUT")
    assert reads == [coupon_id]
