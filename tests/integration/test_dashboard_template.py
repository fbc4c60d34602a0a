"""The operations dashboard, on the CloudFormation template SAM makes of template.yaml: its body is
valid JSON once CloudFormation has substituted it, with a row for each thing the shop is watched
by, and every resource it names is one of the stack's."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from tests.support.cloudformation import Stack

ROWS = ["Traffic", "Money", "Coupons", "Order pipeline", "Capacity", "Functions"]


@pytest.fixture(scope="module", params=("dev", "prod"))
def stack(request: pytest.FixtureRequest) -> Stack:
    return Stack(request.param)


def substituted(stack: Stack, text: str) -> str:
    """The body as CloudFormation makes it: each ${...} replaced by a value of the right kind (a
    reference to a resource of the stack, a pseudo parameter), unknown names refused."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("AWS::"):
            return {"AWS::Region": "ap-northeast-2", "AWS::StackName": "shop-core"}[name]
        resource = name.split(".", 1)[0]
        assert resource in stack.doc["Resources"], f"the dashboard names {name}, not a resource of the stack"
        return f"{resource}-value"

    return re.sub(r"\$\{([^}]+)\}", value, text)


def body(stack: Stack) -> dict[str, Any]:
    (dashboard,) = stack.of_type("AWS::CloudWatch::Dashboard")
    text = stack.properties(dashboard)["DashboardBody"]["Fn::Sub"]
    assert isinstance(text, str)
    return json.loads(substituted(stack, text))  # type: ignore[no-any-return]


def test_the_dashboard_body_is_json_with_the_six_rows_in_order(stack: Stack) -> None:
    widgets = body(stack)["widgets"]
    headings = [w["properties"]["markdown"] for w in widgets if w["type"] == "text"]
    assert headings == [f"## {row}" for row in ROWS]
    rows = [w["y"] for w in widgets if w["type"] == "text"]
    for above, below in itertools.pairwise(rows):
        between = [w for w in widgets if w["type"] == "metric" and above < w["y"] < below]
        assert between, f"the row at y={above} has no graph"
    for widget in widgets:
        assert widget["x"] + widget["width"] <= 24, widget


def test_every_graph_names_metrics(stack: Stack) -> None:
    for widget in body(stack)["widgets"]:
        if widget["type"] != "metric":
            continue
        metrics = widget["properties"]["metrics"]
        assert metrics, widget["properties"]["title"]
        for metric in metrics:
            if isinstance(metric[0], dict):
                assert metric[0]["expression"].startswith("SEARCH("), metric
            else:
                assert len([m for m in metric if isinstance(m, str)]) % 2 == 0, metric  # namespace, name, dimensions


def test_the_traffic_row_reads_the_routes_detailed_metrics(stack: Stack) -> None:
    (api_stage,) = stack.of_type("AWS::ApiGatewayV2::Stage")
    assert stack.properties(api_stage)["DefaultRouteSettings"]["DetailedMetricsEnabled"] is True
    text = json.dumps(body(stack))
    assert "{AWS/ApiGateway,ApiId,Method,Resource,Stage}" in text
    for metric in ("Count", "4xx", "5xx", "Latency"):
        assert f'MetricName=\\"{metric}\\"' in text, metric


def test_the_capacity_row_covers_every_table(stack: Stack) -> None:
    text = json.dumps(body(stack))
    for table in stack.of_type("AWS::DynamoDB::Table"):
        for metric in ("ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"):
            assert f'"{metric}", "TableName", "{table}-value"' in text, (table, metric)
        assert f'TableName=\\"{table}-value\\"' in text, f"{table}: its throttles are not shown"
