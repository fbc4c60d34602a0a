"""Unit tests: every function in-process on moto's DynamoDB, tables built from template.yaml."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_runtime.handler_loader import load_handler
from local_runtime.tables import create_tables
from shop.repositories import dynamodb
from shop.services.coupons import known_campaigns
from tests.support import dynamodb_calls
from tests.support.lambda_events import LambdaContext, http_event


@pytest.fixture
def aws() -> Iterator[Any]:
    """moto's DynamoDB with the template's tables; yields a low-level client."""
    with mock_aws():
        dynamodb.reset_clients()
        known_campaigns.clear()
        # moto gives each mock a default session of its own: every DynamoDB call a handler makes
        # through Api is recorded as its function's (tests/unit/test_least_privilege.py).
        dynamodb_calls.install()
        client = boto3.client("dynamodb")
        create_tables(client)
        yield client
    dynamodb.reset_clients()


class Api:
    """Calls route functions the way API Gateway does, answering (status, body)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {}

    def handler(self, logical_id: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        if logical_id not in self._handlers:
            self._handlers[logical_id] = dynamodb_calls.recorded(logical_id, load_handler(logical_id))
        return self._handlers[logical_id]

    def call(self, logical_id: str, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        answer = self.handler(logical_id)(http_event(method, path, body, **kwargs), LambdaContext())
        return answer["statusCode"], json.loads(answer["body"]) if answer.get("body") else None


_API = Api()


@pytest.fixture
def api(aws: Any) -> Api:
    return _API


@pytest.fixture
def seeded(aws: Any) -> None:
    from local_runtime.seed import seed

    seed()
