"""Events and a context as Lambda hands them to a handler, built from the samples in `events/`."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


def http_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    caller: str | None = None,
    admin: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload 2.0 event for `method path`, made by `caller` (the
    authorizer's context, as API Gateway passes it) when one is given."""
    event = copy.deepcopy(sample("balance_inquiry.json"))
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event.pop("pathParameters", None)
    if headers is not None:
        event["headers"] = {k.lower(): v for k, v in headers.items()}
    event["rawQueryString"] = urlencode(query or {})
    if query:
        event["queryStringParameters"] = query
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    event["requestContext"].pop("authorizer", None)
    if caller is not None:
        event["requestContext"]["authorizer"] = {"lambda": {"sub": caller, "admin": admin}}
    return event


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "5b441b59-a550-11c8-6564-f1c833cf438c"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/26/[$LATEST]test"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
