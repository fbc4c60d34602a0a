"""Coupons: campaigns (`CouponsTable`) and the coupons issued from them (`IssuedCouponsTable`).

CouponsTable: one item per shard of a campaign. Shard 0 is the campaign's own item, keyed by
`couponId`; shard k > 0 is keyed `<couponId>#k` (a campaign id never holds `#`), so every shard
has its own partition key and its own partition's capacity. Each shard holds
`{couponId, name, discount, totalQuantity, validDays, remainingQuantity, shards}`: the campaign's
data (copied, it never changes) and this shard's part of the remaining quantity; `shard` and
`campaignId` on shards k > 0; `soldOut` once every shard was seen empty. A campaign stored
without `shards` is one shard.
IssuedCouponsTable: key `(userId, issuedCouponId)`; the issued coupon id is derived from the
campaign and the user, so the key itself allows one coupon of a campaign per user.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from shop.errors import (
    ConcurrentUpdate,
    CouponAlreadyIssued,
    CouponNotFound,
    OutcomeUnknown,
    Refusal,
    ShardSoldOut,
    Signal,
)
from shop.models.coupon import Coupon, CouponShard, IssuedCoupon, split
from shop.repositories import dynamodb
from shop.retry import Sleep
from shop.settings import settings

SHARD_SEPARATOR = "#"


def shard_key(coupon_id: str, index: int) -> str:
    return coupon_id if index == 0 else f"{coupon_id}{SHARD_SEPARATOR}{index}"


class CouponRepository:
    """`client` is a low-level DynamoDB client for the transactions (default: `dynamodb.client()`),
    `sleep` makes the pauses between attempts."""

    def __init__(
        self,
        coupons_table: str | None = None,
        issued_coupons_table: str | None = None,
        *,
        client: Any | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        config = settings()
        self._coupons_table = coupons_table or config.coupons_table
        self._issued_table = issued_coupons_table or config.issued_coupons_table
        self._client = client
        self._sleep = sleep

    def create(self, coupon: Coupon, shards: int = 1) -> None:
        """Store the campaign, its remaining quantity split across `shards` items: one PutItem for
        one shard, else one transaction putting every shard."""
        if shards == 1:
            dynamodb.table(self._coupons_table).put_item(
                Item=coupon.model_dump(by_alias=True),
                ConditionExpression="attribute_not_exists(couponId)",
            )
            return
        parts = split(coupon.remaining_quantity, shards)
        puts = [
            {
                "Put": {
                    "TableName": self._coupons_table,
                    "Item": dynamodb.to_attribute_values(_shard_item(coupon, index, shards, part)),
                    "ConditionExpression": "attribute_not_exists(couponId)",
                }
            }
            for index, part in enumerate(parts)
        ]
        dynamodb.transact_write(
            puts,
            lambda _: RuntimeError(f"campaign {coupon.coupon_id} already exists"),
            client=self._client,
            sleep=self._sleep,
        )

    def get(self, coupon_id: str) -> Coupon | None:
        """The campaign with its exact remaining quantity: the sum of its shards, each read
        consistently (one GetItem for a campaign of one shard, then one BatchGetItem for the others)."""
        first = self.shard(coupon_id, 0)
        if first is None:
            return None
        remaining = first.remaining_quantity
        if first.count > 1:
            remaining += sum(s.remaining_quantity for s in self._read(coupon_id, range(1, first.count)))
        return first.campaign.model_copy(update={"remaining_quantity": remaining})

    def shard(self, coupon_id: str, index: int, *, consistent: bool = True) -> CouponShard | None:
        """One shard, read consistently (1 RCU) or eventually (half: its quantity may show fuller
        than it is, never emptier)."""
        if SHARD_SEPARATOR in coupon_id:
            return None
        answer = dynamodb.table(self._coupons_table).get_item(
            Key={"couponId": shard_key(coupon_id, index)}, ConsistentRead=consistent
        )
        return _shard(coupon_id, answer["Item"]) if "Item" in answer else None

    def shards(self, coupon_id: str, count: int, *, consistent: bool = True) -> list[CouponShard]:
        """Every shard of the campaign in one BatchGetItem (1 RCU each, half when eventually
        consistent). An eventually consistent read may show a shard's older, higher quantity,
        never a lower one: the quantities only go down."""
        return self._read(coupon_id, range(count), consistent)

    def _read(self, coupon_id: str, indices: Iterable[int], consistent: bool = True) -> list[CouponShard]:
        keys = [{"couponId": shard_key(coupon_id, index)} for index in indices]
        found: list[CouponShard] = []
        request: dict[str, Any] = {self._coupons_table: {"Keys": keys, "ConsistentRead": consistent}}
        for attempt in dynamodb.BACKOFF.attempts(self._sleep):
            answer = dynamodb.resource().batch_get_item(RequestItems=request)
            found.extend(_shard(coupon_id, item) for item in answer.get("Responses", {}).get(self._coupons_table, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return sorted(found, key=lambda s: s.index)
            if attempt == dynamodb.MAX_ATTEMPTS - 1:
                break
        raise ConcurrentUpdate()

    def issue(self, coupon: IssuedCoupon, shard: int = 0) -> None:
        """In one transaction: take one from the shard's remaining quantity if any is left,
        and record the coupon if the user holds none of this campaign.

        Raises `ShardSoldOut` when the shard is empty, saying whether it was
        marked sold out (the cancellation returns the shard as it was)."""
        take_one = {
            "Update": {
                "TableName": self._coupons_table,
                "Key": dynamodb.to_attribute_values({"couponId": shard_key(coupon.coupon_id, shard)}),
                "UpdateExpression": "SET remainingQuantity = remainingQuantity - :one",
                "ConditionExpression": "attribute_exists(couponId) AND remainingQuantity > :zero",
                "ExpressionAttributeValues": dynamodb.to_attribute_values({":one": 1, ":zero": 0}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        record = {
            "Put": {
                "TableName": self._issued_table,
                "Item": dynamodb.to_attribute_values(_issued_item(coupon)),
                "ConditionExpression": "attribute_not_exists(issuedCouponId)",
            }
        }

        def refusal(reasons: list[dict[str, Any]]) -> Refusal | Signal:
            campaign, issued = reasons
            if dynamodb.failed_condition(issued):
                return CouponAlreadyIssued(coupon.coupon_id)
            old = dynamodb.old_item(campaign)
            if old is None:
                return CouponNotFound(coupon.coupon_id)
            return ShardSoldOut(coupon.coupon_id, shard, campaign_sold_out=bool(old.get("soldOut")))

        dynamodb.transact_write([take_one, record], refusal, client=self._client, sleep=self._sleep)

    def mark_sold_out(self, coupon_id: str, indices: list[int]) -> None:
        """Mark the shards (each seen empty) as belonging to a sold-out campaign, in one
        transaction, so that one read of any shard answers. Best effort: a mark cancelled by a
        concurrent one (or a throttle) is left to the next request that sees every shard empty."""
        if not indices:
            return
        marks = [
            {
                "Update": {
                    "TableName": self._coupons_table,
                    "Key": dynamodb.to_attribute_values({"couponId": shard_key(coupon_id, index)}),
                    "UpdateExpression": "SET soldOut = :true",
                    "ConditionExpression": "attribute_exists(couponId) AND remainingQuantity <= :zero",
                    "ExpressionAttributeValues": dynamodb.to_attribute_values({":true": True, ":zero": 0}),
                }
            }
            for index in indices
        ]
        try:
            (self._client or dynamodb.client()).transact_write_items(TransactItems=marks)
        except dynamodb.LOST_ANSWER as error:
            raise OutcomeUnknown() from error
        except ClientError as error:
            if dynamodb.error_code(error) not in _BUSY:
                raise

    def issued_to(self, user_id: str) -> list[IssuedCoupon]:
        """Every coupon issued to the user (at most one per campaign)."""
        query: dict[str, Any] = {"KeyConditionExpression": Key("userId").eq(user_id), "ConsistentRead": True}
        coupons: list[IssuedCoupon] = []
        while True:
            answer = dynamodb.table(self._issued_table).query(**query)
            coupons.extend(_issued_coupon(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return coupons
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def get_issued(self, user_id: str, issued_coupon_id: str) -> IssuedCoupon | None:
        answer = dynamodb.table(self._issued_table).get_item(
            Key={"userId": user_id, "issuedCouponId": issued_coupon_id}, ConsistentRead=True
        )
        return _issued_coupon(answer["Item"]) if "Item" in answer else None

    def use(self, coupon: IssuedCoupon, at: datetime) -> dict[str, Any]:
        """The transaction item that marks the coupon USED, if it is still the user's,
        AVAILABLE and not expired at `at`."""
        return {
            "Update": {
                "TableName": self._issued_table,
                "Key": dynamodb.to_attribute_values(
                    {"userId": coupon.user_id, "issuedCouponId": coupon.issued_coupon_id}
                ),
                "UpdateExpression": "SET #status = :used, usedAt = :at",
                "ConditionExpression": (
                    "attribute_exists(issuedCouponId) AND #status = :available AND expiresAtEpoch > :epoch"
                ),
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": dynamodb.to_attribute_values(
                    {
                        ":used": "USED",
                        ":available": "AVAILABLE",
                        ":at": at.isoformat(),
                        ":epoch": int(at.timestamp()),
                    }
                ),
            }
        }


_BUSY = {"TransactionCanceledException", "TransactionInProgressException", "ThrottlingException"}


def _shard_item(coupon: Coupon, index: int, count: int, remaining: int) -> dict[str, Any]:
    item = coupon.model_dump(by_alias=True)
    item.update(couponId=shard_key(coupon.coupon_id, index), remainingQuantity=remaining, shards=count)
    if index:
        item.update(campaignId=coupon.coupon_id, shard=index)
    return item


def _shard(coupon_id: str, item: dict[str, Any]) -> CouponShard:
    fields = dynamodb.plain(item)
    index = int(fields.pop("shard", 0))
    count = int(fields.pop("shards", 1))
    sold_out = bool(fields.pop("soldOut", False))
    fields.pop("campaignId", None)
    fields["couponId"] = coupon_id
    return CouponShard(
        campaign=Coupon.model_validate(fields),
        index=index,
        count=count,
        remaining_quantity=fields["remainingQuantity"],
        sold_out=sold_out,
    )


def _issued_item(coupon: IssuedCoupon) -> dict[str, Any]:
    item = coupon.model_dump(by_alias=True, mode="json")
    item["expiresAtEpoch"] = int(coupon.expires_at.timestamp())
    return item


def _issued_coupon(item: dict[str, Any]) -> IssuedCoupon:
    fields = dynamodb.plain(item)
    fields.pop("expiresAtEpoch", None)
    fields.pop("usedAt", None)
    return IssuedCoupon.model_validate(fields)
