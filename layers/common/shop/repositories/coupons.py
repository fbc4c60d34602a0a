"""Coupons: campaigns (`CouponsTable`) and the coupons issued from them (`IssuedCouponsTable`).

CouponsTable: one item per campaign, `{couponId, name, discount, totalQuantity,
remainingQuantity, validDays}`.
IssuedCouponsTable: key `(userId, issuedCouponId)`; the issued coupon id is derived from the
campaign and the user, so the key itself allows one coupon of a campaign per user.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from shop.errors import CouponAlreadyIssued, CouponNotFound, CouponSoldOut, ShopError
from shop.models.coupon import Coupon, IssuedCoupon
from shop.repositories import dynamodb
from shop.settings import settings


class CouponRepository:
    def __init__(self, coupons_table: str | None = None, issued_coupons_table: str | None = None) -> None:
        config = settings()
        self._coupons_table = coupons_table or config.coupons_table
        self._issued_table = issued_coupons_table or config.issued_coupons_table

    def create(self, coupon: Coupon) -> None:
        dynamodb.table(self._coupons_table).put_item(
            Item=coupon.model_dump(by_alias=True),
            ConditionExpression="attribute_not_exists(couponId)",
        )

    def get(self, coupon_id: str) -> Coupon | None:
        item = dynamodb.table(self._coupons_table).get_item(Key={"couponId": coupon_id}, ConsistentRead=True)
        return Coupon.model_validate(dynamodb.plain(item["Item"])) if "Item" in item else None

    def issue(self, coupon: IssuedCoupon) -> None:
        """In one transaction: take one from the campaign's remaining quantity if any is left,
        and record the coupon if the user holds none of this campaign."""
        take_one = {
            "Update": {
                "TableName": self._coupons_table,
                "Key": dynamodb.to_attribute_values({"couponId": coupon.coupon_id}),
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

        def refusal(reasons: list[dict[str, Any]]) -> ShopError:
            campaign, issued = reasons
            if dynamodb.failed_condition(issued):
                return CouponAlreadyIssued(coupon.coupon_id)
            if dynamodb.old_item(campaign) is None:
                return CouponNotFound(coupon.coupon_id)
            return CouponSoldOut(coupon.coupon_id)

        dynamodb.transact_write([take_one, record], refusal)

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


def _issued_item(coupon: IssuedCoupon) -> dict[str, Any]:
    item = coupon.model_dump(by_alias=True, mode="json")
    item["expiresAtEpoch"] = int(coupon.expires_at.timestamp())
    return item


def _issued_coupon(item: dict[str, Any]) -> IssuedCoupon:
    fields = dynamodb.plain(item)
    fields.pop("expiresAtEpoch", None)
    fields.pop("usedAt", None)
    return IssuedCoupon.model_validate(fields)
