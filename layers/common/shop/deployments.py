"""The AWS side of a deployment's pre-traffic hook: invoking a function version with an event, and
telling CodeDeploy the hook's verdict (`PutLifecycleEventHookExecutionStatus`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field

# A probed function answers within its own timeout (10 s); one attempt more if the call is lost.
_CONFIG = Config(retries={"total_max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=15)


class LifecycleEvent(BaseModel):
    """What CodeDeploy passes a lifecycle hook."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    deployment_id: str = Field(alias="DeploymentId", min_length=1)
    execution_id: str = Field(alias="LifecycleEventHookExecutionId", min_length=1)


@dataclass(frozen=True)
class Answer:
    """A function's answer to an invocation: its payload, or the error Lambda reports."""

    payload: Any
    function_error: str | None = None


class FunctionVersions:
    """Invokes a function version (its ARN, qualified) synchronously."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or _lambda_client()

    def invoke(self, version_arn: str, event: dict[str, Any]) -> Answer:
        response = self.client.invoke(
            FunctionName=version_arn, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        raw = response["Payload"].read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return Answer(payload=payload, function_error=response.get("FunctionError"))


Status = Literal["Succeeded", "Failed"]


class LifecycleHooks:
    """Reports a lifecycle hook's verdict to CodeDeploy, which goes on with the deployment or rolls
    it back."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or _codedeploy_client()

    def report(self, event: LifecycleEvent, status: Status) -> None:
        self.client.put_lifecycle_event_hook_execution_status(
            deploymentId=event.deployment_id,
            lifecycleEventHookExecutionId=event.execution_id,
            status=status,
        )


@cache
def _lambda_client() -> Any:
    return boto3.client("lambda", config=_CONFIG)


@cache
def _codedeploy_client() -> Any:
    return boto3.client("codedeploy", config=_CONFIG)
