"""The template as SAM sees it: it validates and lints, it builds, and every function it declares
has its code and the environment its code reads."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local_runtime import template
from shop.settings import Settings
from tests.support import newcomer

SAM = Path(sys.executable).parent / "sam"
ROOT = template.ROOT


def functions() -> dict[str, dict[str, Any]]:
    return template.resources("AWS::Serverless::Function")


def route_functions() -> list[str]:
    return [
        logical_id
        for logical_id, resource in functions().items()
        if any(e["Type"] == "HttpApi" for e in resource["Properties"].get("Events", {}).values())
    ]


def sam(*args: str, home: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """SAM CLI as the make targets run it, in a newcomer's environment (the Makefile turns SAM's
    telemetry off)."""
    return newcomer.run([str(SAM), *args], home, timeout=timeout, SAM_CLI_TELEMETRY="0")


def test_sam_cli_is_installed_beside_the_interpreter() -> None:
    assert SAM.is_file(), f"{SAM} is missing: make venv installs the SAM CLI"


def test_make_validate(tmp_path: Path) -> None:
    """`make validate` (sam validate --lint) as a newcomer runs it: no AWS configuration."""
    result = newcomer.make("validate", home=tmp_path / "home")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "is a valid SAM Template" in output


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build_dir = tmp_path_factory.mktemp("sam-build")
    result = sam(
        "build",
        "--template-file",
        str(ROOT / "template.yaml"),
        "--build-dir",
        str(build_dir / "out"),
        "--cache-dir",
        str(build_dir / "cache"),
        home=build_dir / "home",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return build_dir / "out"


def test_sam_build_writes_a_template_and_every_resource(built: Path) -> None:
    assert (built / "template.yaml").is_file()
    for logical_id in [*functions(), *template.resources("AWS::Serverless::LayerVersion")]:
        assert (built / logical_id).is_dir(), logical_id


def test_the_built_layer_holds_the_shop_package_and_its_libraries(built: Path) -> None:
    (layer_id,) = template.resources("AWS::Serverless::LayerVersion")
    python = built / layer_id / "python"
    for package in ("shop", "pydantic", "pydantic_core", "aws_lambda_powertools"):
        assert (python / package / "__init__.py").is_file(), package
    source = ROOT / "layers" / "common" / "shop"
    for module in source.rglob("*.py"):
        assert (python / "shop" / module.relative_to(source)).is_file(), module
    # pydantic's compiled core must be the one for the Lambda runtime (CPython 3.11, x86_64 Linux)
    (core,) = (python / "pydantic_core").glob("_pydantic_core*.so")
    assert "cpython-311-x86_64-linux-gnu" in core.name


def test_every_built_function_holds_its_app(built: Path) -> None:
    for logical_id, resource in functions().items():
        source = ROOT / str(resource["Properties"]["CodeUri"]) / "app.py"
        copied = built / logical_id / "app.py"
        assert copied.is_file(), logical_id
        assert copied.read_text() == source.read_text()
        # the shop package comes from the layer only, never bundled with a function
        assert not (built / logical_id / "shop").exists(), logical_id


def test_every_function_has_an_app_that_defines_the_handler() -> None:
    globals_handler = template.load()["Globals"]["Function"]["Handler"]
    for logical_id, resource in functions().items():
        props = resource["Properties"]
        module_name, handler = str(props.get("Handler", globals_handler)).rsplit(".", 1)
        app = ROOT / str(props["CodeUri"]) / f"{module_name}.py"
        assert app.is_file(), f"{logical_id}: {app} is missing"
        tree = ast.parse(app.read_text())
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)} | {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        assert handler in defined, f"{logical_id}: {app} defines no {handler}"


def test_every_function_uses_the_common_layer() -> None:
    layers = template.load()["Globals"]["Function"]["Layers"]
    (layer_id,) = template.resources("AWS::Serverless::LayerVersion")
    assert {"Ref": layer_id} in layers


def table_variables() -> dict[str, str]:
    """The environment variables Settings reads that name a table, by variable."""
    return {str(field.alias): name for name, field in Settings.model_fields.items() if name.endswith("_table")}


def test_settings_reads_one_variable_per_template_table() -> None:
    tables = set(template.resources("AWS::DynamoDB::Table"))
    assert len(table_variables()) == len(tables)
    for name, field in Settings.model_fields.items():
        if name.endswith("_table"):
            assert field.default in tables, f"{field.alias} defaults to {field.default}, not a template table"


def function_environment(logical_id: str) -> dict[str, Any]:
    globals_env = template.load()["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    own = functions()[logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    return {**globals_env, **own}


@pytest.mark.parametrize("logical_id", route_functions())
def test_every_route_function_gets_every_table_variable(logical_id: str) -> None:
    environment = function_environment(logical_id)
    tables = template.resources("AWS::DynamoDB::Table")
    for variable, field_name in table_variables().items():
        assert variable in environment, f"{logical_id} does not get {variable}"
        value = environment[variable]
        assert isinstance(value, dict) and set(value) == {"Ref"}, f"{variable} must !Ref a table"
        assert value["Ref"] in tables
        # the variable names the table Settings' default names (the same table locally and deployed)
        assert value["Ref"] == Settings.model_fields[field_name].default


def test_the_endpoint_variable_settings_reads_is_in_the_environment() -> None:
    variable = str(Settings.model_fields["dynamodb_endpoint_url"].alias)
    for logical_id in functions():
        assert variable in function_environment(logical_id), logical_id


def test_the_forwarder_gets_the_data_platform_url() -> None:
    variable = str(Settings.model_fields["data_platform_url"].alias)
    (forwarder,) = [
        logical_id
        for logical_id, resource in functions().items()
        if Path(str(resource["Properties"]["CodeUri"])).name == "data_platform_forwarder"
    ]
    assert function_environment(forwarder)[variable] == {"Ref": "DataPlatformUrl"}


def test_the_data_platform_queue_retries_for_a_day_before_its_dead_letter_queue() -> None:
    """OrderCompleted reaches the forwarder through a queue: a failed message comes back after the
    visibility timeout (at least 6x the function's timeout, as AWS advises for SQS event sources)
    for about 24 hours, within the queue's retention, then waits 14 days in the dead-letter queue."""
    resources = template.load()["Resources"]
    forwarder = functions()["DataPlatformForwarderFunction"]["Properties"]
    assert "EventInvokeConfig" not in forwarder  # asynchronous invocations only; a queue source retries itself
    (event,) = forwarder["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue_id = event["Properties"]["Queue"]["Fn::GetAtt"][0]
    queue = resources[queue_id]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * forwarder["Timeout"]
    redrive = queue["RedrivePolicy"]
    horizon = redrive["maxReceiveCount"] * queue["VisibilityTimeout"]
    assert 23 * 3600 <= horizon <= 25 * 3600
    assert queue["MessageRetentionPeriod"] > horizon
    dead_letter = resources[redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]]
    assert dead_letter["Properties"]["MessageRetentionPeriod"] == 14 * 86_400

    (rule_id,) = [
        name
        for name, rule in template.resources("AWS::Events::Rule").items()
        if {"Fn::GetAtt": [queue_id, "Arn"]} in [target["Arn"] for target in rule["Properties"]["Targets"]]
    ]
    rule = resources[rule_id]["Properties"]
    assert rule["EventBusName"] == {"Ref": "ShopEventBus"}
    assert rule["EventPattern"] == {"source": ["shop.orders"], "detail-type": ["OrderCompleted"]}
    (target,) = rule["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86_400}
    rule_dead_letter = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]

    # Only that rule may send to the queue and to the rule's dead-letter queue.
    (policy,) = [
        policy
        for policy in template.resources("AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in policy["Properties"]["Queues"]
    ]
    assert {"Ref": rule_dead_letter} in policy["Properties"]["Queues"]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {s["Resource"]["Fn::GetAtt"][0] for s in statements} == {queue_id, rule_dead_letter}
    for statement in statements:
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


def test_the_orders_pipe_dead_letters_a_record_before_the_stream_drops_it() -> None:
    """A DynamoDB stream keeps a record 24 hours: a pipe that retries past that loses it silently."""
    stream_retention = 24 * 3600
    (pipe,) = template.resources("AWS::Pipes::Pipe").values()
    source = pipe["Properties"]["SourceParameters"]["DynamoDBStreamParameters"]
    assert source["StartingPosition"] == "TRIM_HORIZON"
    assert 0 < source["MaximumRecordAgeInSeconds"] < stream_retention
    assert source["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["OrdersPipeDeadLetterQueue", "Arn"]}
    assert (
        template.resources("AWS::SQS::Queue")["OrdersPipeDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"]
        >= 7 * 24 * 3600
    )


# ---------------------------------------------------------------- identity

PUBLIC_ROUTES = {("GET", "/products"), ("GET", "/products/{productId}"), ("GET", "/products/popular")}


def test_every_route_but_the_public_ones_goes_through_the_token_authorizer() -> None:
    (api,) = template.resources("AWS::Serverless::HttpApi").values()
    auth = api["Properties"]["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    # The alias `live`, deployed as the routes are (tests/integration/test_deploy_template.py).
    assert authorizer["FunctionArn"] == {"Fn::Sub": "${AuthorizerFunction.Arn}:live"}
    assert (authorizer["AuthorizerPayloadFormatVersion"], authorizer["EnableSimpleResponses"]) == ("2.0", True)
    assert authorizer["Identity"] == {"Headers": ["Authorization"], "ReauthorizeEvery": 300}
    seen = set()
    for resource in functions().values():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            route = (event["Properties"]["Method"], event["Properties"]["Path"])
            seen.add(route)
            opted_out = event["Properties"].get("Auth", {}).get("Authorizer") == "NONE"
            assert opted_out == (route in PUBLIC_ROUTES), route
    assert seen > PUBLIC_ROUTES


def test_the_authorizer_trusts_the_stacks_pool_and_api_gateway_may_call_it() -> None:
    resources = template.load()["Resources"]
    variables = function_environment("AuthorizerFunction")
    assert variables["TOKEN_ISSUER"] == {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"}
    assert variables["TOKEN_CLIENT_ID"] == {"Ref": "UserPoolClient"}
    (permission,) = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert permission["Properties"]["FunctionName"] == {"Ref": "AuthorizerFunction.Alias"}
    assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
    assert resources["AdminGroup"]["Properties"] == {
        "GroupName": "admin",
        "Description": "Shop administrators",
        "UserPoolId": {"Ref": "UserPool"},
    }
    assert resources["UserPoolClient"]["Properties"]["GenerateSecret"] is False
    outputs = template.load()["Outputs"]
    assert {"UserPoolId", "UserPoolClientId", "TokenIssuer"} <= set(outputs)
    assert outputs["TokenIssuer"]["Value"] == variables["TOKEN_ISSUER"]
