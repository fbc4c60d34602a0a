"""The remote suite's Cognito half without AWS: moto's Cognito and CloudFormation served as a real
endpoint (moto's server mode), a user pool, app client and admin group made as the template makes
dev's, and a `shop-core-dev` stack whose outputs name them.

`CognitoUsers` makes users whose access tokens the API's own verifier accepts (signature against
the pool's JWKS as moto serves it, issuer, client, `token_use`, the admin group); `delete_all`
empties the pool; `make token STAGE=dev` runs as a person runs it; and a remote suite session that
fails still deletes its users."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local_runtime import ports
from remote.cognito import CognitoUsers, claims
from remote.stage import StageConfig
from shop.auth.tokens import SUBJECT, JwksKeys, TokenVerifier
from tests.support import newcomer
from tests.support.cloudformation import Stack
from tests.support.stub_server import serving

DEV = StageConfig.read("dev")
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "moto", "AWS_SECRET_ACCESS_KEY": "moto"}


@dataclass
class Pool:
    endpoint: str
    cognito: Any
    user_pool_id: str
    client_id: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{DEV.region}.amazonaws.com/{self.user_pool_id}"

    def verifier(self) -> TokenVerifier:
        """The API's verifier, trusting this pool as the deployed authorizer trusts its stage's."""
        return TokenVerifier(
            self.issuer, self.client_id, JwksKeys(f"{self.endpoint}/{self.user_pool_id}/.well-known/jwks.json")
        )

    def usernames(self) -> list[str]:
        """The users' sign-in names: their email addresses (Cognito names them by their `sub`)."""
        users = self.cognito.list_users(UserPoolId=self.user_pool_id)["Users"]
        return [next(a["Value"] for a in user["Attributes"] if a["Name"] == "email") for user in users]

    def groups_of(self, username: str) -> list[str]:
        answer = self.cognito.admin_list_groups_for_user(UserPoolId=self.user_pool_id, Username=username)
        return [group["GroupName"] for group in answer["Groups"]]


class _FailingApi(BaseHTTPRequestHandler):
    """An API that answers every request 500, noting the bearer tokens it was sent."""

    tokens: set[str] = set()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            self.tokens.add(authorization.removeprefix("Bearer "))
        body = b'{"message": "Internal server error"}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=DEV.region,
        aws_access_key_id="moto",
        aws_secret_access_key="moto",
    )


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = ports.free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def failing_api() -> Iterator[str]:
    """The URL of an API that answers every request 500 (`_FailingApi`)."""
    with serving(_FailingApi) as url:
        yield url


@pytest.fixture(scope="module")
def pool(moto_endpoint: str, failing_api: str) -> Pool:
    """dev's pool, app client and admin group, with the template's properties; and the stack
    `make token STAGE=dev` and the remote suite find them by."""
    dev = Stack("dev")
    cognito = _client("cognito-idp", moto_endpoint)
    pool_properties = dev.properties("UserPool")
    pool_properties["PoolName"] = f"{DEV.stack_name}-users"
    del pool_properties["UserPoolName"]
    assert pool_properties["UserPoolTags"] == {"shop-stack": {"Ref": "AWS::StackName"}}
    pool_properties["UserPoolTags"] = {"shop-stack": DEV.stack_name}  # as CloudFormation resolves it
    user_pool_id = cognito.create_user_pool(**pool_properties)["UserPool"]["Id"]
    client_properties = {**dev.properties("UserPoolClient"), "UserPoolId": user_pool_id}
    client_properties["ClientName"] = f"{DEV.stack_name}-shop"
    client_id = cognito.create_user_pool_client(**client_properties)["UserPoolClient"]["ClientId"]
    group = {**dev.properties("AdminGroup"), "UserPoolId": user_pool_id}
    cognito.create_group(**group)
    outputs = {"ApiUrl": failing_api, "UserPoolId": user_pool_id, "UserPoolClientId": client_id}
    stack = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    _client("cloudformation", moto_endpoint).create_stack(StackName=DEV.stack_name, TemplateBody=json.dumps(stack))
    return Pool(moto_endpoint, cognito, user_pool_id, client_id)


def test_the_pool_is_made_with_devs_admin_sign_in_flow(pool: Pool) -> None:
    client = pool.cognito.describe_user_pool_client(UserPoolId=pool.user_pool_id, ClientId=pool.client_id)
    assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" in client["UserPoolClient"]["ExplicitAuthFlows"]
    described = pool.cognito.describe_user_pool(UserPoolId=pool.user_pool_id)["UserPool"]
    assert described["UsernameAttributes"] == ["email"]


def test_users_made_for_a_run_have_tokens_the_api_accepts_and_are_deleted_with_it(pool: Pool) -> None:
    users = CognitoUsers(pool.cognito, pool.user_pool_id, pool.client_id, run_id="run1")
    alice = users.create("alice")
    boss = users.create("boss", admin=True)
    assert sorted(pool.usernames()) == ["alice.run1@example.invalid", "boss.run1@example.invalid"]
    assert pool.groups_of("boss.run1@example.invalid") == ["admin"]

    verifier = pool.verifier()
    for user, admin in ((alice, False), (boss, True)):
        assert SUBJECT.fullmatch(user.user_id) and user.admin is admin
        verified = verifier.verify(user.token)  # the signature against the pool's JWKS, iss, client_id, token_use
        assert (verified.sub, verified.admin) == (user.user_id, admin)
        token = claims(user.token)
        assert (token["sub"], token["client_id"], token["token_use"]) == (user.user_id, pool.client_id, "access")
        assert token.get("cognito:groups", []) == (["admin"] if admin else [])
    assert alice.user_id != boss.user_id
    assert verifier.key_source.fetches == 1  # type: ignore[union-attr]

    users.delete_all()
    assert pool.usernames() == []
    users.delete_all()  # nothing left to delete


def test_a_user_deleted_elsewhere_is_skipped(pool: Pool) -> None:
    users = CognitoUsers(pool.cognito, pool.user_pool_id, pool.client_id)
    gone = users.username("gone")
    users.create("gone")
    users.create("kept")
    pool.cognito.admin_delete_user(UserPoolId=pool.user_pool_id, Username=gone)
    users.delete_all()
    assert pool.usernames() == []


def _make_token(pool: Pool, home: Path, *arguments: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return newcomer.run(
        ["make", "--no-print-directory", "-s", "token", *arguments],
        home,
        timeout=120,
        **{"AWS_ENDPOINT_URL": pool.endpoint, "AWS_EC2_METADATA_DISABLED": "true", **variables},
    )


def test_make_token_with_a_stage_signs_a_user_of_its_pool_in(pool: Pool, tmp_path: Path) -> None:
    first = _make_token(pool, tmp_path, "STAGE=dev", "USER=carol", "ADMIN=1", **DUMMY_CREDENTIALS)
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert "\n" not in token and first.stderr.strip() == f"user id: {claims(token)['sub']}"
    verified = pool.verifier().verify(token)
    assert verified.admin
    assert "carol@example.invalid" in pool.usernames()

    again = _make_token(pool, tmp_path, "STAGE=dev", "USER=carol", **DUMMY_CREDENTIALS)
    assert again.returncode == 0, again.stderr
    assert again.stderr.strip() == f"user id: {verified.sub}"  # the same user, a new password, no longer admin
    reissued = pool.verifier().verify(again.stdout.strip())
    assert (reissued.sub, reissued.admin) == (verified.sub, False)
    assert pool.groups_of("carol@example.invalid") == []
    pool.cognito.admin_delete_user(UserPoolId=pool.user_pool_id, Username="carol@example.invalid")


@pytest.mark.parametrize(
    ("arguments", "credentials", "error"),
    [
        (["STAGE=dev", "USER=dave"], False, "ERROR: no AWS credentials"),
        (["STAGE=prod", "USER=dave"], True, "ERROR: stack shop-core-prod not found in ap-northeast-2: deploy it first"),
        (["STAGE=qa", "USER=dave"], True, "ERROR: samconfig.toml has no stage 'qa'"),
        (["STAGE=dev", "USER=no/slash"], True, "ERROR: USER must be a name"),
    ],
    ids=["no credentials", "no stack", "no such stage", "a name that is no id"],
)
def test_make_token_with_a_stage_says_what_is_wrong_without_a_traceback(
    pool: Pool, tmp_path: Path, arguments: list[str], credentials: bool, error: str
) -> None:
    done = _make_token(pool, tmp_path, *arguments, **(DUMMY_CREDENTIALS if credentials else {}))
    assert done.returncode != 0 and done.stdout == ""
    assert error in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not [name for name in pool.usernames() if name.startswith("dave")]


def test_a_remote_suite_session_that_fails_still_deletes_its_users(pool: Pool, tmp_path: Path) -> None:
    """`make e2e-remote STAGE=dev` as a person runs it, with AWS credentials (moto's): the API's
    URL is the stack's `ApiUrl` output (an API that fails every request)."""
    done = newcomer.run(
        ["make", "--no-print-directory", "e2e-remote", "STAGE=dev", "ARGS=-q -p no:cacheprovider -k test_balance"],
        tmp_path,
        timeout=300,
        AWS_ENDPOINT_URL=pool.endpoint,
        AWS_EC2_METADATA_DISABLED="true",
        **DUMMY_CREDENTIALS,
    )
    last = done.stdout.splitlines()[-1] if done.stdout else ""
    assert done.returncode != 0 and " failed" in last and " passed" not in last, (
        done.stdout[-3000:] + done.stderr[-3000:]
    )
    subjects = {claims(token)["sub"] for token in _FailingApi.tokens}
    assert len(subjects) >= 3, "the run's users were signed in and called the API at the stack's ApiUrl"
    assert pool.usernames() == [], "the failed session left users in the pool"
