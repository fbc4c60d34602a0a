"""Logs an operator can follow, and traces annotated with what they search by: each function called
with its event on moto, its stdout captured and read as the log."""

from __future__ import annotations

import copy
import io
import json
import logging
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from local_runtime.handler_loader import load_handler, load_module
from shop import observability, tracing
from shop.api.errors import OUTCOME_UNKNOWN_MESSAGE
from shop.api.http import REQUEST_MESSAGE
from tests.support.lambda_events import LambdaContext, http_event, sample


class FakeTracer:
    """Records what is annotated, as Powertools' Tracer would put it on the trace."""

    def __init__(self) -> None:
        self.annotations: dict[str, str] = {}

    def put_annotation(self, key: str, value: str) -> None:
        self.annotations[key] = value


class Log:
    """What a function writes: its logger's records (the logger keeps the stdout it was made with,
    so its stream is pointed here) and whatever else reaches stdout or stderr (metrics, warnings)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.stream = io.StringIO()

    def readouterr(self) -> tuple[str, str]:
        out, err = self.capsys.readouterr()
        logged = self.stream.getvalue()
        self.stream.seek(0)
        self.stream.truncate()
        return logged + out, err


@pytest.fixture
def log(capsys: pytest.CaptureFixture[str]) -> Iterator[Log]:
    """The functions' log at INFO (the deployed level)."""
    level = observability.logger.log_level
    handler = observability.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    captured = Log(capsys)
    original = handler.setStream(captured.stream)
    observability.logger.setLevel(logging.INFO)
    capsys.readouterr()
    yield captured
    observability.logger.setLevel(level)
    handler.setStream(original)


@pytest.fixture
def fake_tracer() -> Iterator[FakeTracer]:
    fake = FakeTracer()
    tracing.use(fake)
    yield fake
    tracing.use(None)


def records(log: Log) -> list[dict[str, Any]]:
    """Every line written, each of which must be a JSON object."""
    out, err = log.readouterr()
    lines = [line for line in (out + err).splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"a log line is not JSON: {line!r}")
        assert isinstance(record, dict), line
        parsed.append(record)
    return parsed


def with_request_id(event: dict[str, Any]) -> tuple[dict[str, Any], str]:
    request_id = f"req-{uuid.uuid4()}"
    event = copy.deepcopy(event)
    event["requestContext"]["requestId"] = request_id
    return event, request_id


def request_lines(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in found if record.get("message") == REQUEST_MESSAGE]


# ---------------------------------------------------------------------------------------- route functions


def test_a_read_logs_one_json_line_with_its_request_id_and_nothing_else(seeded: None, log: Any) -> None:
    event, request_id = with_request_id(sample("balance_inquiry.json"))
    answer = load_handler("BalanceInquiryFunction")(event, LambdaContext())
    assert answer["statusCode"] == 200
    found = records(log)
    (line,) = request_lines(found)
    assert line["correlation_id"] == request_id
    assert line["route"] == "GET /users/{userId}/balance"
    assert line["status"] == 200
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
    assert line["level"] == "INFO"
    assert all(record.get("correlation_id") == request_id for record in found)


def test_a_refusal_is_logged_with_its_status(seeded: None, log: Any) -> None:
    event, request_id = with_request_id(http_event("GET", "/users/user-2/balance", caller="user-1"))
    event["pathParameters"] = {"userId": "user-2"}
    answer = load_handler("BalanceInquiryFunction")(event, LambdaContext())
    (line,) = request_lines(records(log))
    assert (line["status"], line["correlation_id"]) == (answer["statusCode"], request_id) == (403, request_id)


def test_every_record_of_an_outcome_unknown_request_carries_its_id(seeded: None, log: Any) -> None:
    from botocore.exceptions import ReadTimeoutError

    from shop.repositories import dynamodb

    def lost(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="http://dynamodb")

    events = dynamodb.resource().meta.client.meta.events
    events.register("request-created.dynamodb.GetItem", lost)
    event, request_id = with_request_id(sample("balance_inquiry.json"))
    try:
        answer = load_handler("BalanceInquiryFunction")(event, LambdaContext())
    finally:
        events.unregister("request-created.dynamodb.GetItem", lost)
    assert answer["statusCode"] == 503
    found = records(log)
    assert [record.get("message") for record in found] == [OUTCOME_UNKNOWN_MESSAGE, REQUEST_MESSAGE, None]
    assert found[2]["OutcomeUnknown"] == [1.0], "the third line is the metrics' (embedded metric format)"
    assert {record["correlation_id"] for record in found} == {request_id}
    assert request_lines(found)[0]["status"] == 503


def test_an_order_is_logged_and_traced_with_its_id_and_no_user_id(
    seeded: None, log: Any, fake_tracer: FakeTracer
) -> None:
    event, request_id = with_request_id(sample("order_placement.json"))
    answer = load_handler("OrderPlacementFunction")(event, LambdaContext())
    assert answer["statusCode"] == 201
    order_id = json.loads(answer["body"])["orderId"]
    (line,) = request_lines(records(log))
    assert (line["order_id"], line["correlation_id"], line["status"]) == (order_id, request_id, 201)
    assert fake_tracer.annotations == {"request_id": request_id, "order_id": order_id}


def test_ids_in_the_path_are_logged_and_traced(seeded: None, log: Any, fake_tracer: FakeTracer) -> None:
    event, request_id = with_request_id(sample("coupon_issue.json"))
    answer = load_handler("CouponIssueFunction")(event, LambdaContext())
    assert answer["statusCode"] == 201
    (line,) = request_lines(records(log))
    assert line["campaign_id"] == "c-welcome"
    assert fake_tracer.annotations == {"request_id": request_id, "campaign_id": "c-welcome"}


def test_an_id_outside_the_pattern_is_neither_logged_nor_traced(log: Any, fake_tracer: FakeTracer) -> None:
    event, request_id = with_request_id(sample("order_inquiry_get.json"))
    event["pathParameters"] = {"orderId": "o-1\n"}
    answer = load_handler("OrderInquiryFunction")(event, LambdaContext())
    assert answer["statusCode"] == 400
    (line,) = request_lines(records(log))
    assert "order_id" not in line
    assert fake_tracer.annotations == {"request_id": request_id}


def test_the_keys_of_one_request_do_not_reach_the_next(seeded: None, log: Any) -> None:
    handler = load_handler("OrderInquiryFunction")
    first, _ = with_request_id(sample("order_inquiry_get.json"))
    handler(first, LambdaContext())
    second, second_id = with_request_id(sample("order_inquiry_list.json"))
    handler(second, LambdaContext())
    lines = request_lines(records(log))
    assert [line.get("order_id") for line in lines] == ["o-1", None]
    assert lines[1]["correlation_id"] == second_id


# ---------------------------------------------------------------------------------------- other functions


def test_the_authorizer_logs_one_line_per_request_with_its_id(log: Any) -> None:
    event, request_id = with_request_id(sample("authorizer_unsigned_token.json"))
    answer = load_handler("AuthorizerFunction")(event, LambdaContext())
    assert answer["isAuthorized"] is False
    (line,) = records(log)
    assert (line["message"], line["authorized"], line["correlation_id"]) == ("request refused", False, request_id)
    assert line["reason"]


def test_the_sales_counter_logs_the_events_id_and_order_id(aws: Any, log: Any, fake_tracer: FakeTracer) -> None:
    event = sample("sales_counter.json")
    load_handler("SalesCounterFunction")(event, LambdaContext())
    (line,) = records(log)
    order_id = event["detail"]["dynamodb"]["NewImage"]["orderId"]["S"]
    assert line["message"] == "OrderCompleted handled"
    assert (line["correlation_id"], line["order_id"]) == (event["id"], order_id)
    assert fake_tracer.annotations == {"order_id": order_id}


def test_the_forwarder_logs_one_line_per_batch_naming_each_order_and_event(
    aws: Any, log: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shop.models.order import Order
    from shop.services.data_platform import DataPlatformService

    class Accepting(DataPlatformService):
        def send(self, order: Order) -> None:
            pass

    function = load_module("DataPlatformForwarderFunction")
    monkeypatch.setattr(function, "service", Accepting())
    event = sample("data_platform_forwarder.json")
    bodies = [json.loads(record["body"]) for record in event["Records"]]
    answer = function.lambda_handler(event, LambdaContext())
    assert answer == {"batchItemFailures": []}
    (line,) = records(log)
    assert line["message"] == "batch forwarded"
    assert (line["records"], line["failed"]) == (len(bodies), 0)
    assert [sent["event_id"] for sent in line["sent"]] == [body["id"] for body in bodies]
    assert [sent["order_id"] for sent in line["sent"]] == [
        body["detail"]["dynamodb"]["NewImage"]["orderId"]["S"] for body in bodies
    ]


# ---------------------------------------------------------------------------------------- the seams


def test_an_empty_metric_set_writes_no_warning_once_quieted() -> None:
    def flushed_warnings(quiet: bool) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.resetwarnings()
            warnings.simplefilter("always")
            if quiet:
                observability.quiet_empty_metrics()
            observability.metrics.flush_metrics()
        return [str(warning.message) for warning in caught]

    assert any(observability.EMPTY_METRICS in message for message in flushed_warnings(quiet=False))
    assert flushed_warnings(quiet=True) == []


def test_annotate_puts_only_the_searchable_ids_that_are_given() -> None:
    fake = FakeTracer()
    annotated = tracing.annotate(
        {"request_id": "r-1", "order_id": "o-1", "campaign_id": None, "user_id": "user-1"}, to=fake
    )
    assert annotated == fake.annotations == {"request_id": "r-1", "order_id": "o-1"}


def test_identify_adds_the_ids_to_the_log_and_the_trace(log: Any, fake_tracer: FakeTracer) -> None:
    observability.identify(order_id="o-9", campaign_id=None)
    observability.logger.info("probe")
    (line,) = records(log)
    observability.logger.remove_keys(["order_id"])
    assert line["order_id"] == "o-9" and "campaign_id" not in line
    assert fake_tracer.annotations == {"order_id": "o-9"}


LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task"}


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        (LAMBDA, True),
        ({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({**LAMBDA, "AWS_SAM_LOCAL": "true"}, False),
        ({}, False),
    ],
)
def test_tracing_is_on_in_lambda_only_unless_turned_off(environ: dict[str, str], on: bool) -> None:
    assert tracing.enabled(environ) is on


def test_tracing_off_does_not_import_the_xray_sdk_nor_wrap_the_handler() -> None:
    # In a fresh interpreter: this one may have loaded the SDK for another reason.
    probe = (
        "import sys\n"
        "from local_runtime.handler_loader import load_handler, load_module\n"
        "from shop import tracing\n"
        "handler = load_handler('OrderPlacementFunction')\n"
        "assert tracing.tracer() is None\n"
        "print(sorted(name for name in sys.modules if name.startswith('aws_xray_sdk')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": ":".join(sys.path),
            "AWS_DEFAULT_REGION": "us-east-1",
            "LAMBDA_TASK_ROOT": "/var/task",
            "POWERTOOLS_TRACE_DISABLED": "true",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
