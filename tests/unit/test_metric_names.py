"""Every metric the dashboard or an alarm names in the shop's namespace is one the code emits.

The handlers run on moto through every use case (the least-privilege scenario, then a fault of
each kind the API answers 500 or 503), Powertools prints each invocation's metrics as EMF JSON on
stdout, and the names found there are compared with those template.yaml names in the namespace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_runtime import template
from local_runtime.seed import seed
from local_runtime.tables import create_tables
from shop.repositories import dynamodb
from tests.support import dynamodb_calls
from tests.unit.conftest import Api
from tests.unit.test_least_privilege import exercise_every_function

NAMESPACE = template.load()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]


def emitted_names(output: str) -> set[str]:
    """The metric names of the EMF records (one JSON document a line) in `output`, in NAMESPACE."""
    names = set()
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] == NAMESPACE:
                names.update(metric["Name"] for metric in directive["Metrics"])
    return names


def named_by_the_template() -> set[str]:
    """The metric names in NAMESPACE of every alarm and of the dashboard."""
    names = set()
    for alarm in template.resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == NAMESPACE:
            names.add(props["MetricName"])
        for query in props.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == NAMESPACE:
                names.add(metric["MetricName"])
    for dashboard in template.resources("AWS::CloudWatch::Dashboard").values():
        widgets = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"].replace("${", "{"))["widgets"]
        for widget in widgets:
            namespace = None
            for metric in widget.get("properties", {}).get("metrics", []):
                strings = [m for m in metric if isinstance(m, str)]
                if isinstance(metric[0], dict):
                    assert f"{{{NAMESPACE}," not in metric[0]["expression"], "a search in the shop's namespace"
                    continue
                namespace = namespace if strings[0] == "." else strings[0]
                if namespace == NAMESPACE:
                    names.add(strings[1])
    return names


@pytest.fixture(scope="module")
def emitted() -> Iterator[set[str]]:
    with pytest.MonkeyPatch.context() as env, mock_aws():
        dynamodb.reset_clients()
        dynamodb_calls.install()
        client = boto3.client("dynamodb")
        create_tables(client)
        seed()
        api = Api()
        capture = _Capture()
        with capture:
            exercise_every_function(api, client)  # the daily reconciliation included
            # a fault the code did not expect: 500 INTERNAL_ERROR
            client.delete_table(TableName="ProductsTable")
            assert api.call("ProductInquiryFunction", "GET", "/products")[0] == 500
            # a database that does not answer: 503 OUTCOME_UNKNOWN
            env.setenv("DYNAMODB_ENDPOINT_URL", "http://127.0.0.1:9")
            status, _ = api.call(
                "BalanceChargeFunction", "POST", "/users/user-1/balance/charge", {"amount": 1}, caller="user-1"
            )
            assert status == 503
        yield emitted_names(capture.text)
    dynamodb.reset_clients()


class _Capture:
    """What the handlers print on stdout (Powertools prints EMF there on each flush)."""

    def __init__(self) -> None:
        self.text = ""

    def __enter__(self) -> None:
        import contextlib
        import io

        self._buffer = io.StringIO()
        self._redirect = contextlib.redirect_stdout(self._buffer)
        self._redirect.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._redirect.__exit__(*exc)
        self.text = self._buffer.getvalue()


def test_the_run_emitted_the_use_cases_metrics(emitted: set[str]) -> None:
    assert {
        "OrdersPlaced",
        "PaidAmount",
        "BalanceCharged",
        "ChargedAmount",
        "CouponsIssued",
        "LedgerMismatch",
    } <= emitted


def test_every_metric_the_template_names_in_the_namespace_is_emitted(emitted: set[str]) -> None:
    named = named_by_the_template()
    assert {"OutcomeUnknown", "UnexpectedErrors", "OrdersPlaced", "CouponSoldOut"} <= named  # the check sees them
    assert not named - emitted, f"named in template.yaml but never emitted: {sorted(named - emitted)}"
