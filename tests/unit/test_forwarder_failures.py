"""The data platform forwarder's failures: each record the data platform refuses, cannot be reached
for, or that is not an OrderCompleted is reported in `batchItemFailures` (retried, never dropped),
and only that record."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters

from local_runtime.handler_loader import load_handler
from tests.support.data_platform import *  # noqa: F403 (its fixtures)
from tests.support.data_platform import DataPlatform
from tests.support.lambda_events import LambdaContext, sample


def forwarder_batch(*orders: tuple[str, str]) -> dict[str, Any]:
    """An SQS batch for the forwarder: the sample record once per (messageId, orderId), each body
    the sample's OrderCompleted event carrying that order id."""
    (record,) = sample("data_platform_forwarder.json")["Records"]
    records = []
    for message_id, order_id in orders:
        event = json.loads(record["body"])
        event["detail"]["dynamodb"]["Keys"]["orderId"]["S"] = order_id
        event["detail"]["dynamodb"]["NewImage"]["orderId"]["S"] = order_id
        records.append({**record, "messageId": message_id, "body": json.dumps(event)})
    return {"Records": records}


@pytest.fixture
def forwarder(
    data_platform: DataPlatform, data_platform_credential: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[[dict[str, Any]], Any]:
    monkeypatch.setenv("DATA_PLATFORM_URL", data_platform.url)
    handler = load_handler("DataPlatformForwarderFunction")
    return lambda event: handler(event, LambdaContext())


def test_forwarder_reports_the_record_the_data_platform_answers_500_to(
    data_platform: DataPlatform, forwarder: Callable[[dict[str, Any]], Any]
) -> None:
    data_platform.status = 500
    event = sample("data_platform_forwarder.json")
    (record,) = event["Records"]

    assert forwarder(event) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}  # and no raise
    assert len(data_platform.received) == 1  # it did reach the platform, which refused it


def test_forwarder_reports_only_the_failing_record_of_a_batch(
    data_platform: DataPlatform, forwarder: Callable[[dict[str, Any]], Any]
) -> None:
    data_platform.refused = {"order-refused"}
    event = forwarder_batch(("m-good", "order-good"), ("m-refused", "order-refused"))

    assert forwarder(event) == {"batchItemFailures": [{"itemIdentifier": "m-refused"}]}
    assert [body["orderId"] for _, _, body in data_platform.received] == ["order-good", "order-refused"]


def test_forwarder_reports_every_record_when_the_data_platform_is_unreachable(
    data_platform_credential: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = DataPlatform()
    url = closed.url
    closed.close()  # nothing listens on that port any more
    monkeypatch.setenv("DATA_PLATFORM_URL", url)
    handler = load_handler("DataPlatformForwarderFunction")
    event = forwarder_batch(("m-1", "order-1"), ("m-2", "order-2"))

    answer = handler(event, LambdaContext())

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}


@pytest.mark.parametrize("status", [401, 403])
def test_forwarder_reports_the_record_whose_credential_the_data_platform_refuses(
    data_platform: DataPlatform,
    forwarder: Callable[[dict[str, Any]], Any],
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data_platform.status = status
    event = forwarder_batch(("m-1", "order-1"))

    assert forwarder(event) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}  # retried, never dropped
    assert len(data_platform.received) == 1
    assert any(r.getMessage().startswith("CREDENTIAL REFUSED") for r in caplog.records)


def test_forwarder_sends_nothing_and_reports_every_record_without_its_secret(
    data_platform: DataPlatform, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_PLATFORM_URL", data_platform.url)
    monkeypatch.setenv(
        "DATA_PLATFORM_CREDENTIAL_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone"
    )
    parameters.clear_caches()
    handler = load_handler("DataPlatformForwarderFunction")

    answer = handler(forwarder_batch(("m-1", "order-1")), LambdaContext())

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert data_platform.received == []


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda e: {**e, "detail": {**e["detail"], "eventName": "REMOVE"}}, id="a removal"),
        pytest.param(lambda e: {**e, "detail-type": "OrderCancelled"}, id="another detail-type"),
        pytest.param(lambda e: "not an event", id="not an object"),
        pytest.param(None, id="not JSON"),
    ],
)
def test_forwarder_reports_a_record_that_is_not_an_order_completed(
    data_platform: DataPlatform,
    forwarder: Callable[[dict[str, Any]], Any],
    spoil: Callable[[dict[str, Any]], Any] | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = forwarder_batch(("m-bad", "order-bad"), ("m-good", "order-good"))
    bad = event["Records"][0]
    bad["body"] = json.dumps(spoil(json.loads(bad["body"]))) if spoil else "{not json"

    assert forwarder(event) == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert [body["orderId"] for _, _, body in data_platform.received] == ["order-good"]
    assert any(
        r.getMessage().startswith("MALFORMED RECORD") and getattr(r, "message_id", None) == "m-bad"
        for r in caplog.records
    )
