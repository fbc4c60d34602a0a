"""Helpers for tests that run the real `sam local` in Docker (`local_runtime.sam_local`).

- `require_engine()`: make sure a Docker engine and the Lambda image are there, or skip the test
  with one line saying why; with `CI=true` (CI sets it) a missing engine fails instead.
- `Tables`: read DynamoDB Local back from this machine.
- `Answer` / `http()`: a function's answer, a request to a running `sam local start-api`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
import pytest

from local_runtime import sam_local


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_engine() -> sam_local.Engine:
    """`scripts/lambda-image.sh ensure`; skip (fail with CI=true) if no Docker engine can run here."""
    try:
        return sam_local.ensure_engine(progress=lambda _: None)
    except sam_local.EngineUnavailable as error:
        if on_ci():
            pytest.fail(f"CI=true, so this is a failure: {error}", pytrace=False)
        pytest.skip(str(error))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class Tables:
    """The template's tables on DynamoDB Local, read from the host (consistent reads)."""

    def __init__(self, endpoint: str) -> None:
        self.resource = boto3.resource("dynamodb", endpoint_url=endpoint, region_name=sam_local.REGION)

    def item(self, table: str, **key: str) -> dict[str, Any] | None:
        found = self.resource.Table(table).get_item(Key=key, ConsistentRead=True).get("Item")
        return _plain(found) if found is not None else None

    def query(self, table: str, key: str, value: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        answer = self.resource.Table(table).query(KeyConditionExpression=Key(key).eq(value), ConsistentRead=True)
        return [_plain(item) for item in answer.get("Items", [])]

    def balance(self, user_id: str) -> int:
        item = self.item("BalancesTable", userId=user_id)
        return int(item["balance"]) if item else 0

    def stock(self, product_id: str) -> int:
        item = self.item("ProductsTable", productId=product_id)
        assert item is not None, f"product {product_id} is not in ProductsTable"
        return int(item["stock"])

    def remaining(self, coupon_id: str) -> int:
        """The campaign's remaining quantity: the sum of its shards (`<couponId>#k` for k > 0)."""
        item = self.item("CouponsTable", couponId=coupon_id)
        assert item is not None, f"coupon {coupon_id} is not in CouponsTable"
        shards = [self.item("CouponsTable", couponId=f"{coupon_id}#{k}") for k in range(1, int(item.get("shards", 1)))]
        assert all(shards), f"a shard of coupon {coupon_id} is missing"
        return sum(int(shard["remainingQuantity"]) for shard in [item, *shards] if shard)


@dataclass
class Answer:
    """A function's answer: for an HTTP route its status and decoded JSON body, else the raw answer."""

    raw: Any
    logs: list[str] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        return self.raw.get("statusCode") if isinstance(self.raw, dict) else None

    @property
    def body(self) -> Any:
        if isinstance(self.raw, dict) and "statusCode" in self.raw:
            text = self.raw.get("body") or "null"
            return json.loads(text)
        return self.raw

    def why(self) -> str:
        """For assertion messages: the answer and the last log lines."""
        tail = "\n".join(self.logs[-25:])
        return f"answer: {json.dumps(self.raw)[:2000]}\n--- last log lines ---\n{tail}"


def http(
    base_url: str, method: str, path: str, body: Any = None, timeout: float = 60, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One request with a JSON body (and `headers`, e.g. a bearer token); (status, decoded JSON answer)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base_url + path, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text or b"null")
    except ValueError:
        return status, text.decode(errors="replace")
