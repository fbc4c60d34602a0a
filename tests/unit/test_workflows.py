"""The GitHub Actions workflows and the deploy role they assume, read as files: every action pinned
by commit, permissions declared per job and OIDC tokens only where AWS is reached, prod deployed
only after dev passed the remote suite and an approval, pull requests running what a newcomer runs,
a deploy role that only this repository's main branch and prod environment can assume, and a
remote-suite role that can only make test users in dev's pool."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_runtime import template

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
OIDC_TEMPLATE = ROOT / "deploy" / "github-oidc.yaml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), path
    return doc


def _triggers(workflow: dict[str, Any]) -> Any:
    # YAML 1.1 reads the key `on` as true.
    return workflow.get("on", workflow.get(True))


def _jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in WORKFLOWS:
        for name, job in _load(path)["jobs"].items():
            yield path.name, name, job


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps", []))


def _deploy_jobs(stage: str) -> dict[str, dict[str, Any]]:
    return {name: job for _, name, job in _jobs() if re.search(rf"sam deploy --config-env {stage}\b", _runs(job))}


def _remote_suite_jobs() -> dict[str, dict[str, Any]]:
    return {name: job for _, name, job in _jobs() if "make e2e-remote" in _runs(job)}


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def test_there_are_workflows() -> None:
    assert {path.name for path in WORKFLOWS} >= {"pull-request.yml", "deploy.yml"}


def test_every_action_is_pinned_by_a_commit_with_its_version_in_a_comment() -> None:
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if match is None:
                continue
            action, rest = match.groups()
            assert PINNED.match(action), f"{path.name}: {action} is not pinned by a 40-hex commit"
            assert re.match(r"^\s+# v\d", rest), f"{path.name}: {action} has no version comment"


def test_checkout_keeps_no_credentials() -> None:
    for workflow, name, job in _jobs():
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, (workflow, name)


def test_every_job_declares_its_permissions_and_workflows_grant_none() -> None:
    for path in WORKFLOWS:
        assert _load(path).get("permissions") == {}, path.name
    for workflow, name, job in _jobs():
        assert isinstance(job.get("permissions"), dict), f"{workflow}: job {name} declares no permissions"
        assert set(job["permissions"]) <= {"contents", "id-token"}, (workflow, name)
        assert job["permissions"].get("contents") in (None, "read"), (workflow, name)


def test_only_the_jobs_reaching_aws_can_ask_for_an_oidc_token() -> None:
    deploying = set(_deploy_jobs("dev")) | set(_deploy_jobs("prod"))
    with_token = {name for _, name, job in _jobs() if job["permissions"].get("id-token") == "write"}
    assert deploying == {"deploy-dev", "deploy-prod"}
    assert set(_remote_suite_jobs()) == {"remote-suite-dev"}
    assert with_token == deploying | {"remote-suite-dev"}


def test_aws_credentials_come_from_the_role_not_from_keys() -> None:
    for workflow, name, job in _jobs():
        text = json.dumps(job)  # whatever mapping type the YAML loader made
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text, (workflow, name)
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
                role = "AWS_REMOTE_SUITE_ROLE_ARN" if name in _remote_suite_jobs() else "AWS_DEPLOY_ROLE_ARN"
                assert step["with"]["role-to-assume"] == f"${{{{ vars.{role} }}}}", (workflow, name)
                assert step["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
                assert job["permissions"].get("id-token") == "write", (workflow, name)


def test_prod_is_deployed_after_the_remote_suite_passed_on_dev_and_an_approval() -> None:
    (dev_name,) = _deploy_jobs("dev")
    ((suite_name, suite),) = _remote_suite_jobs().items()
    (prod,) = _deploy_jobs("prod").values()
    environment = prod.get("environment")
    assert (environment.get("name") if isinstance(environment, dict) else environment) == "prod"
    assert suite_name in _needs(prod)
    assert _needs(suite) == [dev_name]
    for job in (_deploy_jobs("dev")[dev_name], suite):
        assert "environment" not in job  # its token's sub is ref:refs/heads/main


def test_the_remote_suite_runs_against_the_url_dev_was_deployed_at() -> None:
    (suite,) = _remote_suite_jobs().values()
    (step,) = [step for step in suite["steps"] if "make e2e-remote" in str(step.get("run", ""))]
    assert re.fullmatch(r'make e2e-remote STAGE=dev API_URL="\$API_URL"', step["run"].strip())
    (dev_name,) = _deploy_jobs("dev")
    assert step["env"]["API_URL"] == f"${{{{ needs.{dev_name}.outputs.api-url }}}}"
    assert _deploy_jobs("dev")[dev_name]["outputs"]["api-url"].startswith("${{ steps.")


def test_two_deploys_of_a_stage_never_overlap() -> None:
    groups = []
    for stage in ("dev", "prod"):
        (job,) = _deploy_jobs(stage).values()
        concurrency = job.get("concurrency")
        assert isinstance(concurrency, dict), stage
        assert concurrency.get("cancel-in-progress") is False, stage
        groups.append(concurrency["group"])
    assert "${{" not in "".join(groups) and len(set(groups)) == 2


def test_no_expression_is_expanded_inside_a_script() -> None:
    for workflow, name, job in _jobs():
        assert "${{" not in _runs(job), f"{workflow}: job {name} expands an expression in run:"


def test_a_pull_request_runs_make_test_through_ci_run() -> None:
    on_pull_request = [path for path in WORKFLOWS if "pull_request" in _triggers(_load(path))]
    assert on_pull_request
    for path in on_pull_request:
        runs = [
            str(step.get("run", "")).strip() for job in _load(path)["jobs"].values() for step in job.get("steps", [])
        ]
        assert ".ci/run" in runs, path.name
    assert re.search(r"^exec make test$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)


def test_deploys_run_only_on_a_push_to_main() -> None:
    deploying = [path for path in WORKFLOWS if "sam deploy" in path.read_text()]
    assert deploying
    for path in deploying:
        assert _triggers(_load(path)) == {"push": {"branches": ["main"]}}, path.name


@pytest.fixture(scope="module")
def oidc_template() -> dict[str, Any]:
    return template.load(OIDC_TEMPLATE)


def test_the_deploy_role_trusts_only_this_repositorys_main_branch_and_prod_environment(
    oidc_template: dict[str, Any],
) -> None:
    role = oidc_template["Resources"]["GitHubDeployRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Condition"]) == {"StringEquals"}  # no StringLike: no pattern at all
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subjects = [sub["Fn::Sub"] for sub in condition["token.actions.githubusercontent.com:sub"]]
    assert subjects == [
        "repo:${GitHubRepository}:ref:refs/heads/main",
        "repo:${GitHubRepository}:environment:prod",
    ]
    allowed = oidc_template["Parameters"]["GitHubRepository"]["AllowedPattern"]
    assert re.fullmatch(allowed, "shop-team/shop-core")
    for wildcard in ("shop-team/*", "*/shop-core", "shop-team/shop-core:*", "shop-team/shop?core"):
        assert not re.fullmatch(allowed, wildcard), wildcard


def test_the_deploy_role_passes_only_the_stacks_roles(oidc_template: dict[str, Any]) -> None:
    role = oidc_template["Resources"]["GitHubDeployRole"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    passing = [s for s in statements if "iam:PassRole" in s["Action"] or s["Action"] in ("*", "iam:*")]
    assert len(passing) == 1
    assert [r["Fn::Sub"] for r in passing[0]["Resource"]] == [
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${DevStackName}-*",
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProdStackName}-*",
    ]
    for statement in statements:
        if statement["Resource"] == "*":
            assert statement["Condition"] == {
                "ForAnyValue:StringEquals": {"aws:CalledVia": "cloudformation.amazonaws.com"}
            }, statement["Sid"]


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def test_the_remote_suite_role_trusts_only_main_and_makes_test_users_in_devs_pool_alone(
    oidc_template: dict[str, Any],
) -> None:
    role = oidc_template["Resources"]["GitHubRemoteSuiteRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert set(trust["Condition"]) == {"StringEquals"}
    subjects = [sub["Fn::Sub"] for sub in trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]]
    assert subjects == ["repo:${GitHubRepository}:ref:refs/heads/main"]
    statements = _statements(role)
    actions = {
        action for s in statements for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "cloudformation:DescribeStacks",
        "cognito-idp:AdminCreateUser",
        "cognito-idp:AdminSetUserPassword",
        "cognito-idp:AdminAddUserToGroup",
        "cognito-idp:AdminInitiateAuth",
        "cognito-idp:AdminGetUser",
        "cognito-idp:AdminDeleteUser",
    }
    for statement in statements:
        resource = statement["Resource"]
        assert resource != "*", statement["Sid"]
        if any(str(action).startswith("cognito-idp:") for action in statement["Action"]):
            assert statement["Condition"] == {
                "StringEquals": {"aws:ResourceTag/shop-stack": {"Ref": "DevStackName"}}
            }, statement["Sid"]
        else:
            assert "${DevStackName}" in resource["Fn::Sub"] and "Prod" not in resource["Fn::Sub"], statement["Sid"]


def test_the_user_pool_carries_the_tag_the_remote_suite_role_is_limited_by() -> None:
    shop = template.load(ROOT / "template.yaml")
    tags = shop["Resources"]["UserPool"]["Properties"]["UserPoolTags"]
    assert tags == {"shop-stack": {"Ref": "AWS::StackName"}}
