"""Races over HTTP on sharded coupon campaigns: exactly N issued across the shards, no 5xx, the
remaining quantity right afterwards, and one coupon per user whichever shards they reach."""

from __future__ import annotations

from collections import Counter
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from tests.e2e.conftest import Answer, Client, fresh_id, race
from tests.support.runtime import TransactionOutcomes

_deserialize = TypeDeserializer().deserialize


def _shards(client: Any, coupon_id: str) -> list[dict[str, Any]]:
    """The campaign's shard items as stored, in shard order."""
    first = client.get_item(TableName="CouponsTable", Key={"couponId": {"S": coupon_id}}, ConsistentRead=True)["Item"]
    count = int(first.get("shards", {"N": "1"})["N"])
    keys = [{"couponId": {"S": coupon_id if k == 0 else f"{coupon_id}#{k}"}} for k in range(count)]
    answer = client.batch_get_item(RequestItems={"CouponsTable": {"Keys": keys, "ConsistentRead": True}})
    items = [{k: _deserialize(v) for k, v in item.items()} for item in answer["Responses"]["CouponsTable"]]
    assert len(items) == count
    return sorted(items, key=lambda item: int(item.get("shard", 0)))


def _holders(client: Any, coupon_id: str) -> list[str]:
    users = []
    for page in client.get_paginator("scan").paginate(TableName="IssuedCouponsTable", ConsistentRead=True):
        users += [item["userId"]["S"] for item in page["Items"] if item["couponId"]["S"] == coupon_id]
    return users


def _no_server_errors(answers: list[Answer]) -> None:
    failures = [answer for answer in answers if answer.status >= 500 or answer.status == 0]
    assert not failures, f"{len(failures)} server errors, e.g. {failures[:3]}"


def _admin(api: Client) -> Client:
    return api.as_user("admin-sharded", admin=True)


def _campaign(api: Client, quantity: int, shards: int | None = None) -> str:
    body: dict[str, Any] = {
        "name": "Sharded race",
        "discount": {"type": "FIXED", "amount": 1000},
        "totalQuantity": quantity,
        "validDays": 7,
    }
    if shards is not None:
        body["shards"] = shards
    coupon = _admin(api).ok("POST", "/coupons", body)
    return str(coupon["couponId"])


def _race_for(
    api: Client, dynamodb_client: Any, outcomes: Counter[str], coupon_id: str, quantity: int, users: list[str]
) -> None:
    issue = f"/coupons/{coupon_id}/issue"
    outcomes.clear()
    codes, answers = race([lambda u=u: api.as_user(u).post(issue, {"userId": u}) for u in users], clients=64)

    print(f"sharded coupon race ({quantity}): {dict(codes)}; transactions: {dict(outcomes)}")
    _no_server_errors(answers)
    assert codes == Counter({"201": quantity, "409 COUPON_SOLD_OUT": len(users) - quantity})
    winners = {answer.body["userId"] for answer in answers if answer.status == 201}
    assert len(winners) == quantity
    shards = _shards(dynamodb_client, coupon_id)
    assert len(shards) > 1
    assert [int(shard["remainingQuantity"]) for shard in shards] == [0] * len(shards)
    assert sorted(_holders(dynamodb_client, coupon_id)) == sorted(winners)
    assert _admin(api).get(f"/coupons/{coupon_id}").body["remainingQuantity"] == 0
    late = fresh_id("late")
    assert api.as_user(late).post(issue, {"userId": late}).code == "409 COUPON_SOLD_OUT"
    assert {shard.get("soldOut") for shard in _shards(dynamodb_client, coupon_id)} == {True}


def test_400_clients_race_for_50_coupons_in_5_shards(
    api: Client, dynamodb_client: Any, transaction_outcomes: TransactionOutcomes
) -> None:
    coupon_id = _campaign(api, 50, shards=5)
    _race_for(api, dynamodb_client, transaction_outcomes, coupon_id, 50, [fresh_id("racer") for _ in range(400)])


def test_400_clients_race_for_1000_coupons_in_the_default_shards(
    api: Client, dynamodb_client: Any, transaction_outcomes: TransactionOutcomes
) -> None:
    coupon_id = _campaign(api, 1_000)
    assert len(_shards(dynamodb_client, coupon_id)) == 10
    assert _admin(api).get(f"/coupons/{coupon_id}").body["remainingQuantity"] == 1_000
    users = [fresh_id("racer") for _ in range(1_200)]
    _race_for(api, dynamodb_client, transaction_outcomes, coupon_id, 1_000, users)


def test_one_user_racing_against_themselves_across_shards_gets_one_coupon(api: Client, dynamodb_client: Any) -> None:
    coupon_id = _campaign(api, 80, shards=8)
    issue = f"/coupons/{coupon_id}/issue"
    primers = [fresh_id("primer") for _ in range(8)]  # the function learns the shard count
    for primer in primers:
        assert api.as_user(primer).post(issue, {"userId": primer}).status == 201
    me = fresh_id("greedy")
    client = api.as_user(me)

    codes, answers = race([lambda: client.post(issue, {"userId": me})] * 60, clients=60)

    print(f"self race across shards: {dict(codes)}")
    _no_server_errors(answers)
    assert codes == Counter({"201": 1, "409 COUPON_ALREADY_ISSUED": 59})
    assert _holders(dynamodb_client, coupon_id).count(me) == 1
    assert sum(int(shard["remainingQuantity"]) for shard in _shards(dynamodb_client, coupon_id)) == 80 - 8 - 1
    assert _admin(api).get(f"/coupons/{coupon_id}").body["remainingQuantity"] == 80 - 8 - 1
    assert [c["couponId"] for c in client.get(f"/users/{me}/coupons").body["items"]] == [coupon_id]
