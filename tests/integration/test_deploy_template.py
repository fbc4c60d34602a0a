"""Safe deploys, checked on the CloudFormation template SAM makes of template.yaml for each stage:
every function is published behind the alias `live`, which the routes, the authorizer and the event
sources invoke; CodeDeploy shifts the alias (a canary in prod, all at once in dev), rolled back by
the function's ErrorsAlarm and the API's 5xx rate alarm; and a pre-traffic hook probes the new
versions of the functions it is set on, allowed to invoke exactly those versions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.cloudformation import Stack, logical_id

STAGES = ("dev", "prod")
ALIAS = "live"
DEPLOYMENT_CONFIG = {
    "dev": "CodeDeployDefault.LambdaAllAtOnce",
    "prod": "CodeDeployDefault.LambdaCanary10Percent5Minutes",
}
API_ALARM = "ShopHttpApiServerErrorRateAlarm"
HOOK = "PreTrafficHookFunction"
HOOKED = {"ProductInquiryFunction", "BalanceInquiryFunction"}  # the functions the hook probes


@pytest.fixture(scope="module", params=STAGES)
def stack(request: pytest.FixtureRequest) -> Stack:
    return Stack(request.param)


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def functions(stack: Stack) -> set[str]:
    return set(stack.of_type("AWS::Lambda::Function"))


def aliases(stack: Stack) -> dict[str, str]:
    """Each function's alias `live`, by function."""
    found = {}
    for name in stack.of_type("AWS::Lambda::Alias"):
        props = stack.properties(name)
        if props["Name"] == ALIAS:
            function = logical_id(props["FunctionName"])
            assert function not in found, f"{function} has two aliases {ALIAS}"
            found[str(function)] = name
    return found


def referenced(reference: Any) -> str | None:
    """The logical id a `Ref`, a `Fn::GetAtt` or a `Fn::Sub` of just `${Id}` names."""
    if isinstance(reference, dict) and isinstance(reference.get("Fn::Sub"), str):
        match = re.fullmatch(r"\$\{(\w+)\}", reference["Fn::Sub"])
        return match.group(1) if match else None
    return logical_id(reference)


def alias_function(stack: Stack, reference: Any) -> str | None:
    """The function whose alias `live` a reference names (None: not an alias)."""
    target = referenced(reference)
    if target is None or stack.doc["Resources"][target]["Type"] != "AWS::Lambda::Alias":
        return None
    return logical_id(stack.properties(target)["FunctionName"])


def sub(value: Any) -> str:
    """A `Fn::Sub` with its own variables substituted (SAM writes the deployment type so)."""
    text, variables = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})
    for name, replacement in variables.items():
        text = text.replace(f"${{{name}}}", str(replacement))
    return str(text)


def deployment_group(stack: Stack, function: str) -> dict[str, Any]:
    policy = stack.doc["Resources"][aliases(stack)[function]].get("UpdatePolicy", {})
    update = policy.get("CodeDeployLambdaAliasUpdate")
    assert update, f"{function}: its alias is not shifted by CodeDeploy"
    return stack.properties(str(logical_id(update["DeploymentGroupName"])))


def deployed(stack: Stack) -> set[str]:
    """The functions CodeDeploy deploys: all but the hook, which is deployed as it is."""
    return functions(stack) - {HOOK}


# ---------------------------------------------------------------------------------------- aliases


def test_every_function_is_published_behind_the_alias_live(stack: Stack) -> None:
    found = aliases(stack)
    assert set(found) == functions(stack)
    for function, alias in found.items():
        version = logical_id(stack.properties(alias)["FunctionVersion"])
        assert stack.doc["Resources"][version]["Type"] == "AWS::Lambda::Version"
        assert stack.properties(str(version))["FunctionName"] == ref(function)


def test_every_route_integration_invokes_an_alias(stack: Stack) -> None:
    (api,) = stack.of_type("AWS::ApiGatewayV2::Api")
    paths = stack.properties(api)["Body"]["paths"]
    resources = stack.doc["Resources"]
    seen = set()
    for path, methods in paths.items():
        for method, operation in methods.items():
            uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            (target,) = [name for name in resources if f"${{{name}}}" in uri]
            assert resources[target]["Type"] == "AWS::Lambda::Alias", f"{method} {path} invokes {target}"
            seen.add(alias_function(stack, ref(target)))
    assert seen and seen <= deployed(stack)


def test_api_gateway_may_invoke_the_route_aliases_and_nothing_unqualified(stack: Stack) -> None:
    permitted = [
        stack.properties(p)
        for p in stack.of_type("AWS::Lambda::Permission")
        if stack.properties(p)["Principal"] == "apigateway.amazonaws.com"
    ]
    assert permitted
    for permission in permitted:
        assert alias_function(stack, permission["FunctionName"]), permission["FunctionName"]


def test_the_authorizer_is_invoked_through_its_alias(stack: Stack) -> None:
    """The authorizer's ARN is written `${AuthorizerFunction.Arn}:live` (the alias's ARN, in a form
    SAM CLI's local gateway can read: template.yaml says why); API Gateway may invoke that alias."""
    (api,) = stack.of_type("AWS::ApiGatewayV2::Api")
    schemes = stack.properties(api)["Body"]["components"]["securitySchemes"]
    (authorizer,) = [s["x-amazon-apigateway-authorizer"] for s in schemes.values()]
    template, variables = authorizer["authorizerUri"]["Fn::Sub"]
    assert "/functions/${__FunctionArn__}/invocations" in template
    alias = aliases(stack)["AuthorizerFunction"]
    assert variables["__FunctionArn__"] == {"Fn::Sub": f"${{AuthorizerFunction.Arn}}:{stack.properties(alias)['Name']}"}
    authorizer_permissions = [
        stack.properties(p)
        for p in stack.of_type("AWS::Lambda::Permission")
        if "/authorizers/" in str(stack.properties(p).get("SourceArn"))
    ]
    assert [p["FunctionName"] for p in authorizer_permissions] == [ref(alias)]


def test_the_event_sources_invoke_the_aliases(stack: Stack) -> None:
    mappings = [stack.properties(m)["FunctionName"] for m in stack.of_type("AWS::Lambda::EventSourceMapping")]
    targets = [
        target["Arn"]
        for rule in stack.of_type("AWS::Events::Rule")
        for target in stack.properties(rule)["Targets"]
        if stack.doc["Resources"].get(str(logical_id(target["Arn"])), {}).get("Type") != "AWS::SQS::Queue"
    ]
    assert mappings and targets
    for reference in mappings + targets:
        assert alias_function(stack, reference) in deployed(stack), reference


# ---------------------------------------------------------------------------------------- shifts


def test_prod_shifts_a_canary_and_dev_all_at_once(stack: Stack) -> None:
    stage = stack.parameters["Stage"]
    for function in deployed(stack):
        group = deployment_group(stack, function)
        assert sub(group["DeploymentConfigName"]) == DEPLOYMENT_CONFIG[stage], function
        assert group["DeploymentStyle"] == {"DeploymentType": "BLUE_GREEN", "DeploymentOption": "WITH_TRAFFIC_CONTROL"}


def test_every_deployment_rolls_back_on_its_functions_errors_and_the_apis_5xx_rate(stack: Stack) -> None:
    for function in deployed(stack):
        group = deployment_group(stack, function)
        assert group["AlarmConfiguration"]["Enabled"] is True
        named = [logical_id(a["Name"]) for a in group["AlarmConfiguration"]["Alarms"]]
        assert sorted(named) == sorted([API_ALARM, f"{function}ErrorsAlarm"]), function
        rollback = group["AutoRollbackConfiguration"]
        assert rollback["Enabled"] is True
        assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(rollback["Events"])


def test_a_functions_rollback_alarm_counts_its_errors_whatever_version_ran(stack: Stack) -> None:
    """The function-level dimension (FunctionName alone): every invocation of every version, so
    the canary's errors count as soon as it takes traffic, and the alarm keeps watching the
    function between deployments."""
    for function in deployed(stack):
        alarm = stack.properties(f"{function}ErrorsAlarm")
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": ref(function)}]


def test_the_hook_itself_is_not_shifted(stack: Stack) -> None:
    assert "UpdatePolicy" not in stack.doc["Resources"][aliases(stack)[HOOK]]


# ---------------------------------------------------------------------------------------- the hook


def test_the_pre_traffic_hook_is_set_on_the_probed_functions(stack: Stack) -> None:
    for function in deployed(stack):
        update = stack.doc["Resources"][aliases(stack)[function]]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        hook = update.get("BeforeAllowTrafficHook")
        assert (hook == ref(HOOK)) == (function in HOOKED), function
        assert "AfterAllowTrafficHook" not in update


def test_codedeploy_may_invoke_the_hook(stack: Stack) -> None:
    """SAM's CodeDeploy role (AWSCodeDeployRoleForLambda) invokes hooks named CodeDeployHook_*."""
    name = sub(stack.properties(HOOK)["FunctionName"])
    assert name.startswith("CodeDeployHook_")
    assert len(name.replace("${AWS::StackName}", "x" * 30)) <= 64


def test_the_hook_probes_the_versions_the_aliases_shift_to(stack: Stack) -> None:
    variables = stack.properties(HOOK)["Environment"]["Variables"]
    for function, variable in (
        ("ProductInquiryFunction", "PRODUCT_INQUIRY_VERSION"),
        ("BalanceInquiryFunction", "BALANCE_INQUIRY_VERSION"),
    ):
        shifted_to = logical_id(stack.properties(aliases(stack)[function])["FunctionVersion"])
        assert variables[variable] == ref(str(shifted_to))
    assert variables["SMOKE_TEST_USER_ID"]


def test_the_hook_may_invoke_exactly_the_probed_versions_and_report(stack: Stack) -> None:
    role = logical_id(stack.properties(HOOK)["Role"])
    statements = [
        s for policy in stack.properties(str(role)).get("Policies", []) for s in policy["PolicyDocument"]["Statement"]
    ]
    managed = stack.properties(str(role)).get("ManagedPolicyArns", [])
    assert all(
        any(name in str(arn) for name in ("AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess")) for arn in managed
    ), managed
    invoke = [s for s in statements if "lambda:InvokeFunction" in s["Action"]]
    assert [s["Action"] for s in invoke] == ["lambda:InvokeFunction"]
    (statement,) = invoke
    versions = {str(logical_id(stack.properties(aliases(stack)[f])["FunctionVersion"])): f for f in sorted(HOOKED)}
    assert sorted(statement["Resource"], key=str) == sorted((ref(v) for v in versions), key=str)
    (report,) = [s for s in statements if s not in invoke]
    assert report["Action"] == "codedeploy:PutLifecycleEventHookExecutionStatus"
    assert "${ServerlessDeploymentApplication}/*" in report["Resource"]["Fn::Sub"]
