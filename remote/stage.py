"""A deployed stage as a client finds it: its stack name and region from `samconfig.toml` (the
environment `sam deploy --config-env <stage>` uses), and the stack's outputs from CloudFormation
(the API's URL, the user pool and its app client)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

SAMCONFIG = Path(__file__).resolve().parents[1] / "samconfig.toml"


class StageError(Exception):
    """The stage cannot be reached as configured; the message says what to do."""


@dataclass(frozen=True)
class StageConfig:
    """Where a stage is deployed: `samconfig.toml`'s `[<stage>.global.parameters] stack_name` and
    `[<stage>.deploy.parameters] region`."""

    name: str
    stack_name: str
    region: str

    @classmethod
    def read(cls, name: str, samconfig: Path = SAMCONFIG) -> StageConfig:
        config = tomllib.loads(samconfig.read_text())
        environment = config.get(name)
        if name == "default" or not isinstance(environment, dict):
            stages = sorted(key for key, value in config.items() if isinstance(value, dict) and key != "default")
            raise StageError(f"{samconfig.name} has no stage {name!r} (its stages: {', '.join(stages)})")
        try:
            stack_name = environment["global"]["parameters"]["stack_name"]
            region = environment["deploy"]["parameters"]["region"]
        except KeyError as missing:
            raise StageError(f"{samconfig.name}: stage {name!r} sets no {missing.args[0]}") from None
        return cls(name, str(stack_name), str(region))


@dataclass(frozen=True)
class Stage:
    """A deployed stage: its configuration and its stack's outputs."""

    config: StageConfig
    api_url: str
    user_pool_id: str
    user_pool_client_id: str

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def region(self) -> str:
        return self.config.region

    @classmethod
    def describe(cls, config: StageConfig, cloudformation: Any) -> Stage:
        """The stage's outputs, read with `cloudformation` (a boto3 CloudFormation client in the
        stage's region). Raises `StageError` with what to do when it cannot."""
        try:
            stacks = cloudformation.describe_stacks(StackName=config.stack_name)["Stacks"]
        except NoCredentialsError:
            raise StageError(
                f"no AWS credentials to read stack {config.stack_name}: set AWS_PROFILE, or sign in "
                "(aws sso login / aws configure)"
            ) from None
        except NoRegionError:
            raise StageError("no AWS region: samconfig.toml should set the stage's region") from None
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", str(error))
            if "does not exist" in message:
                raise StageError(
                    f"stack {config.stack_name} not found in {config.region}: deploy it first "
                    f"(sam deploy --config-env {config.name})"
                ) from None
            raise StageError(f"cannot read stack {config.stack_name} in {config.region}: {code} {message}") from None
        except BotoCoreError as error:
            raise StageError(f"cannot read stack {config.stack_name} in {config.region}: {error}") from None
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
        missing = [name for name in ("ApiUrl", "UserPoolId", "UserPoolClientId") if name not in outputs]
        if missing:
            raise StageError(f"stack {config.stack_name} has no output {', '.join(missing)}: is it this template's?")
        return cls(config, outputs["ApiUrl"], outputs["UserPoolId"], outputs["UserPoolClientId"])


def load(name: str, session: Any = None) -> Stage:
    """Stage `name` as deployed, read with the default AWS credentials (or `session`'s, a boto3
    session): its region from samconfig.toml."""
    import boto3

    config = StageConfig.read(name)
    session = session or boto3.session.Session()
    return Stage.describe(config, session.client("cloudformation", region_name=config.region))
