"""Traces on in AWS and off in the local modes, and the saved Logs Insights queries, checked on the
CloudFormation template SAM makes of template.yaml (offline) and on SAM CLI's reading of it."""

from __future__ import annotations

import json
import re
import shlex
from types import SimpleNamespace
from typing import Any

import pytest

from local_runtime import template
from local_runtime.functions import LocalLambda, stacks
from local_runtime.sam_local import Backends
from tests.support.cloudformation import Stack

STAGES = ("dev", "prod")


@pytest.fixture(scope="module", params=STAGES)
def stack(request: pytest.FixtureRequest) -> Stack:
    return Stack(request.param)


def functions(stack: Stack) -> dict[str, dict[str, Any]]:
    return {name: stack.properties(name) for name in stack.of_type("AWS::Lambda::Function")}


def log_groups(stack: Stack) -> dict[str, str]:
    """Each declared log group's logical id, by the resource it serves (`AuthorizerFunction`, ...)."""
    return {name.removesuffix("LogGroup"): name for name in stack.of_type("AWS::Logs::LogGroup")}


def queries(stack: Stack) -> dict[str, dict[str, Any]]:
    return {name: stack.properties(name) for name in stack.of_type("AWS::Logs::QueryDefinition")}


def route_functions() -> set[str]:
    return {
        name
        for name, resource in template.resources("AWS::Serverless::Function").items()
        if any(event.get("Type") == "HttpApi" for event in (resource["Properties"].get("Events") or {}).values())
    }


# ---------------------------------------------------------------------------------------- traces


def test_every_function_traces_and_may_write_traces(stack: Stack) -> None:
    found = functions(stack)
    assert len(found) == len(template.resources("AWS::Serverless::Function"))
    for name, props in found.items():
        assert props.get("TracingConfig") == {"Mode": "Active"}, name
        assert props["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "false", name
        role = stack.properties(props["Role"]["Fn::GetAtt"][0])
        assert any("AWSXrayWriteOnlyAccess" in json.dumps(arn) for arn in role.get("ManagedPolicyArns", [])), name


def test_no_tracing_finding_is_suppressed_any_more() -> None:
    text = template.TEMPLATE.read_text()
    assert "WS1000" not in text
    assert "CKV_AWS_50" not in text  # checkov: X-Ray tracing on Lambda
    assert not re.search(r"traces? come", text)


def test_the_tracing_switch_is_a_true_false_parameter_off_by_default() -> None:
    parameter = template.load()["Parameters"]["TracingDisabled"]
    assert parameter["Default"] == "false"
    assert sorted(parameter["AllowedValues"]) == ["false", "true"]


def resolved_variables(overrides: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each function's environment as SAM CLI resolves it (make run and sam local alike)."""
    local = LocalLambda(stacks(overrides))
    try:
        return {name: dict(function.variables) for name, function in local.functions.items()}
    finally:
        local.stop()


def test_sam_local_runs_every_function_with_tracing_off() -> None:
    backends = Backends(
        dynamodb=SimpleNamespace(port=1),  # type: ignore[arg-type]
        data_platform=SimpleNamespace(server_address=("127.0.0.1", 2), credential="local-token"),  # type: ignore[arg-type]
        gateway="172.17.0.1",
    )
    options = backends.sam_options()
    overrides = dict(pair.split("=", 1) for pair in shlex.split(options[options.index("--parameter-overrides") + 1]))
    assert overrides["TracingDisabled"] == "true"
    variables = resolved_variables(overrides)
    assert set(variables) == set(template.resources("AWS::Serverless::Function"))
    assert {name: env["POWERTOOLS_TRACE_DISABLED"] for name, env in variables.items()} == dict.fromkeys(
        variables, "true"
    )


def test_without_the_parameter_sam_resolves_tracing_on() -> None:
    variables = resolved_variables({})
    assert {env["POWERTOOLS_TRACE_DISABLED"] for env in variables.values()} == {"false"}


# ---------------------------------------------------------------------------------------- saved queries


def access_log_fields() -> set[str]:
    api = template.load()["Resources"]["ShopHttpApi"]["Properties"]
    return set(json.loads(api["AccessLogSettings"]["Format"].replace("\n", "")))


def test_the_saved_queries_run_on_declared_log_groups_only(stack: Stack) -> None:
    declared = set(stack.of_type("AWS::Logs::LogGroup"))
    found = queries(stack)
    assert len(found) == 4
    for name, props in found.items():
        groups = props["LogGroupNames"]
        assert groups and all(isinstance(g, dict) and set(g) == {"Ref"} for g in groups), name
        assert {g["Ref"] for g in groups} <= declared, name
        assert len(groups) == len({g["Ref"] for g in groups}), name
        assert props["Name"]["Fn::Sub"].startswith("${AWS::StackName}/"), name


def test_one_request_is_found_in_the_access_log_and_every_function_it_reached(stack: Stack) -> None:
    props = queries(stack)["OneRequestQuery"]
    groups = {g["Ref"] for g in props["LogGroupNames"]}
    by_function = log_groups(stack)
    expected = {by_function[name] for name in route_functions() | {"AuthorizerFunction"}}
    assert groups == expected | {"ShopHttpApiAccessLogGroup"}
    query = props["QueryString"]
    assert "requestId" in access_log_fields()
    assert 'correlation_id = "REQUEST_ID"' in query and 'requestId = "REQUEST_ID"' in query


def test_server_errors_are_counted_by_route_from_the_access_log(stack: Stack) -> None:
    props = queries(stack)["ServerErrorsByRouteQuery"]
    assert [g["Ref"] for g in props["LogGroupNames"]] == ["ShopHttpApiAccessLogGroup"]
    query = props["QueryString"]
    assert "filter status >= 500" in query
    grouped = re.search(r"stats .* by (.+)", query)
    assert grouped is not None
    fields = {field.strip() for field in grouped.group(1).split("|")[0].split(",")}
    assert "routeKey" in fields and fields <= access_log_fields()


@pytest.mark.parametrize("query", ["OutcomeUnknownQuery", "SlowestRequestsQuery"])
def test_the_route_queries_cover_every_route_function(stack: Stack, query: str) -> None:
    props = queries(stack)[query]
    by_function = log_groups(stack)
    assert {g["Ref"] for g in props["LogGroupNames"]} == {by_function[name] for name in route_functions()}


def test_the_route_queries_filter_on_the_messages_the_layer_logs() -> None:
    from shop.api.errors import OUTCOME_UNKNOWN_MESSAGE
    from shop.api.http import REQUEST_MESSAGE

    resources = template.load()["Resources"]
    outcome = resources["OutcomeUnknownQuery"]["Properties"]["QueryString"]
    slowest = resources["SlowestRequestsQuery"]["Properties"]["QueryString"]
    assert f'message = "{OUTCOME_UNKNOWN_MESSAGE}"' in outcome and f'message = "{REQUEST_MESSAGE}"' in outcome
    assert f'filter message = "{REQUEST_MESSAGE}"' in slowest and "sort latency_ms desc" in slowest


def test_the_runbook_names_the_saved_queries() -> None:
    runbook = template.ROOT.joinpath("docs", "runbook.md").read_text()
    for name in template.resources("AWS::Logs::QueryDefinition"):
        assert f"`{name}`" in runbook, f"docs/runbook.md does not point at {name}"
