"""The AWS settings of this machine's emulators: one region, one account id, dummy credentials.

Every local tool (`make run`, `make invoke`, `make sam-api`) talks only to emulators (DynamoDB
Local, the local queues and bus), which take any credentials. A newcomer has no AWS configuration
(no `AWS_*` variables, no `~/.aws`), so each tool sets what its own clients need itself, before it
makes any client: `for_emulators()`.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
DUMMY_CREDENTIALS = {"key": "local", "secret": "local", "sessiontoken": "local"}

# Variables that would send this process's clients elsewhere than the endpoints it gives them.
_REDIRECTS = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODBSTREAMS")


def for_emulators(environ: MutableMapping[str, str] | None = None) -> None:
    """Give this process (or `environ`) a region and dummy credentials where none are set, keep
    SAM CLI's telemetry off, and drop what would point its clients at a real account or endpoint."""
    env = os.environ if environ is None else environ
    for name in _REDIRECTS:
        env.pop(name, None)
    env.setdefault("AWS_DEFAULT_REGION", REGION)
    env.setdefault("AWS_REGION", env["AWS_DEFAULT_REGION"])
    if not env.get("AWS_ACCESS_KEY_ID") or not env.get("AWS_SECRET_ACCESS_KEY"):
        env["AWS_ACCESS_KEY_ID"] = DUMMY_CREDENTIALS["key"]
        env["AWS_SECRET_ACCESS_KEY"] = DUMMY_CREDENTIALS["secret"]
        env.pop("AWS_SESSION_TOKEN", None)
    env["SAM_CLI_TELEMETRY"] = "0"
