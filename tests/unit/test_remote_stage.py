"""The remote suite's view of a stage: samconfig.toml's stack and region, the stack's outputs, the
errors a person can act on; and the dev-only sign-in flow its users need (template.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from remote.cognito import random_password
from remote.stage import Stage, StageConfig, StageError
from tests.support.cloudformation import Stack

ADMIN_FLOW = "ALLOW_ADMIN_USER_PASSWORD_AUTH"


@pytest.mark.parametrize(("stage", "admin_flow"), [("dev", True), ("prod", False)])
def test_only_devs_app_client_lets_a_user_be_signed_in_by_the_admin_api(stage: str, admin_flow: bool) -> None:
    flows = Stack(stage).properties("UserPoolClient")["ExplicitAuthFlows"]
    assert (ADMIN_FLOW in flows) is admin_flow
    assert {"ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} <= set(flows)
    assert "ALLOW_CUSTOM_AUTH" not in flows


def test_a_random_password_meets_the_pools_policy() -> None:
    policy = Stack("dev").properties("UserPool")["Policies"]["PasswordPolicy"]
    for _ in range(200):
        password = random_password()
        assert len(password) >= policy["MinimumLength"]
        assert any(c.islower() for c in password) and any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)


def test_a_stage_is_found_in_samconfig() -> None:
    assert StageConfig.read("dev") == StageConfig("dev", "shop-core-dev", "ap-northeast-2")
    assert StageConfig.read("prod").stack_name == "shop-core-prod"


@pytest.mark.parametrize("name", ["staging", "default"])
def test_a_stage_samconfig_does_not_have_names_those_it_has(name: str) -> None:
    with pytest.raises(StageError, match=r"no stage .* \(its stages: dev, prod\)"):
        StageConfig.read(name)


def test_a_stage_without_a_region_is_an_error_that_says_so(tmp_path: Path) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text('version = 0.1\n[qa.global.parameters]\nstack_name = "x"\n')
    with pytest.raises(StageError, match="sets no deploy"):
        StageConfig.read("qa", samconfig)


OUTPUTS = {"ApiUrl": "https://api.example", "UserPoolId": "ap-northeast-2_pool", "UserPoolClientId": "client"}
CONFIG = StageConfig("dev", "shop-core-dev", "ap-northeast-2")


def _stack(outputs: dict[str, str]) -> dict[str, Any]:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }


def test_a_stages_outputs_are_read_from_its_stack() -> None:
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=CONFIG.region)
        cloudformation.create_stack(StackName="shop-core-dev", TemplateBody=json.dumps(_stack(OUTPUTS)))
        stage = Stage.describe(CONFIG, cloudformation)
    assert (stage.api_url, stage.user_pool_id, stage.user_pool_client_id) == tuple(OUTPUTS.values())
    assert (stage.name, stage.region) == ("dev", "ap-northeast-2")


def test_a_missing_stack_or_output_is_an_error_that_says_what_to_do() -> None:
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=CONFIG.region)
        with pytest.raises(StageError, match=r"stack shop-core-dev not found in ap-northeast-2: deploy it first"):
            Stage.describe(CONFIG, cloudformation)
        cloudformation.create_stack(StackName="shop-core-dev", TemplateBody=json.dumps(_stack({"ApiUrl": "x"})))
        with pytest.raises(StageError, match="has no output UserPoolId, UserPoolClientId"):
            Stage.describe(CONFIG, cloudformation)


def test_no_credentials_is_an_error_that_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = boto3.session.Session(botocore_session=botocore.session.Session())
    cloudformation = session.client("cloudformation", region_name=CONFIG.region)
    with pytest.raises(StageError, match="no AWS credentials"):
        Stage.describe(CONFIG, cloudformation)


def test_another_refusal_is_named() -> None:
    cloudformation = boto3.client("cloudformation", region_name=CONFIG.region)
    with Stubber(cloudformation) as stub:
        stub.add_client_error("describe_stacks", "AccessDenied", "not allowed", 403)
        with pytest.raises(StageError, match="cannot read stack shop-core-dev in ap-northeast-2: AccessDenied"):
            Stage.describe(CONFIG, cloudformation)
