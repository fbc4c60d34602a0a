"""The data platform's credential in the template, as CloudFormation gets it for each stage: a secret
of Secrets Manager, whose ARN (never its value) the forwarder gets, which only the forwarder may
read, and a local token that no deployment sets."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from local_runtime import template
from tests.support.cloudformation import Stack

STAGES = ("dev", "prod")


@pytest.fixture(scope="module", params=STAGES)
def stack(request: pytest.FixtureRequest) -> Stack:
    return Stack(request.param)


def statements(stack: Stack) -> list[tuple[str, dict[str, Any]]]:
    """(role, statement) for every IAM statement of the stack's roles."""
    return [
        (name, statement)
        for name in stack.of_type("AWS::IAM::Role")
        for policy in stack.properties(name).get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def names_the_secret(resource: Any) -> bool:
    """A statement's resource is the secret's ARN (`!Ref`, or SAM's `Fn::Sub` of it)."""
    secret = {"Ref": "DataPlatformCredential"}
    return resource == secret or (
        isinstance(resource, dict) and resource.get("Fn::Sub", [None, {}])[1] == {"secretArn": secret}
    )


def test_the_credential_is_a_secret_generated_so_no_stack_sends_a_known_one(stack: Stack) -> None:
    secret = stack.properties("DataPlatformCredential")
    assert stack.doc["Resources"]["DataPlatformCredential"]["Type"] == "AWS::SecretsManager::Secret"
    assert "SecretString" not in secret  # no value in the template
    generated = secret["GenerateSecretString"]
    assert generated["ExcludePunctuation"] is True  # a bearer token: letters and digits
    assert generated["PasswordLength"] >= 32


def test_the_forwarder_gets_the_secrets_arn_and_the_local_token_only(stack: Stack) -> None:
    variables = stack.properties("DataPlatformForwarderFunction")["Environment"]["Variables"]
    assert variables["DATA_PLATFORM_CREDENTIAL_SECRET_ARN"] == {"Ref": "DataPlatformCredential"}  # the ARN
    assert variables["LOCAL_DATA_PLATFORM_TOKEN"] == ""  # a deployment gives no local token
    for name in stack.of_type("AWS::Lambda::Function"):
        if name != "DataPlatformForwarderFunction":
            other = stack.properties(name).get("Environment", {}).get("Variables", {})
            assert not {"DATA_PLATFORM_CREDENTIAL_SECRET_ARN", "LOCAL_DATA_PLATFORM_TOKEN"} & set(other), name


def test_only_the_forwarder_may_read_the_secret_and_only_that_one(stack: Stack) -> None:
    readers = [
        (role, st["Action"]) for role, st in statements(stack) if any(map(names_the_secret, as_list(st["Resource"])))
    ]
    assert readers == [("DataPlatformForwarderFunctionRole", ["secretsmanager:GetSecretValue"])]
    for role, statement in statements(stack):
        if any(str(action).startswith("secretsmanager:") for action in as_list(statement["Action"])):
            assert all(map(names_the_secret, as_list(statement["Resource"]))), f"{role} reads another secret"


def test_the_local_token_is_hidden_empty_by_default_and_never_deployed() -> None:
    parameter = template.load()["Parameters"]["LocalDataPlatformToken"]
    assert parameter["NoEcho"] is True
    assert parameter["Default"] == ""
    samconfig = tomllib.loads((template.ROOT / "samconfig.toml").read_text())
    assert "LocalDataPlatformToken" not in str(samconfig)


def test_the_secret_is_named_by_the_stacks_outputs(stack: Stack) -> None:
    assert stack.doc["Outputs"]["DataPlatformCredentialArn"]["Value"] == {"Ref": "DataPlatformCredential"}
