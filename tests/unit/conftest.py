"""Unit tests: every function in-process on moto's DynamoDB, tables built from template.yaml."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, get_type_hints

import boto3
import pytest
from aws_lambda_powertools.event_handler import Depends
from moto import mock_aws

from local_runtime.handler_loader import handler_name, load_module
from local_runtime.tables import create_tables
from shop.repositories import dynamodb
from tests.support import dynamodb_calls
from tests.support.lambda_events import LambdaContext, http_event


@pytest.fixture
def aws() -> Iterator[Any]:
    """moto's DynamoDB with the template's tables; yields a low-level client."""
    with mock_aws():
        dynamodb.reset_clients()
        # moto gives each mock a default session of its own: every DynamoDB call a handler makes
        # through Api is recorded as its function's (tests/unit/test_least_privilege.py).
        dynamodb_calls.install()
        client = boto3.client("dynamodb")
        create_tables(client)
        yield client
    dynamodb.reset_clients()


class Api:
    """Calls route functions the way API Gateway does, answering (status, body).

    An Api stands for new instances of the functions it calls: each function's services (built
    once per instance by its `Depends` providers) are built anew for it, and `serve` replaces one
    with `app.dependency_overrides` until `close`."""

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {}
        self._overridden: list[tuple[ModuleType, Callable[..., Any]]] = []

    def module(self, logical_id: str) -> ModuleType:
        """The function's handler module, imported once for every test (as an instance keeps it)."""
        if logical_id not in _MODULES:
            _MODULES[logical_id] = load_module(logical_id)
        return _MODULES[logical_id]

    def handler(self, logical_id: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        if logical_id not in self._handlers:
            module = self.module(logical_id)
            for provider in providers(module):
                provider.cache_clear()  # type: ignore[attr-defined]
            handler = getattr(module, handler_name(logical_id).rsplit(".", 1)[1])
            self._handlers[logical_id] = dynamodb_calls.recorded(logical_id, handler)
        return self._handlers[logical_id]

    def serve(self, logical_id: str, service: Any) -> None:
        """Let the function's routes that take a service of `service`'s class use `service`."""
        self.handler(logical_id)
        module = self.module(logical_id)
        (provider,) = [p for p in providers(module) if isinstance(service, get_type_hints(p)["return"])]
        module.app.dependency_overrides[provider] = lambda: service
        self._overridden.append((module, provider))

    def close(self) -> None:
        """Give the functions their own services back."""
        for module, provider in self._overridden:
            module.app.dependency_overrides.pop(provider, None)
        self._overridden.clear()

    def call(self, logical_id: str, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        answer = self.handler(logical_id)(http_event(method, path, body, **kwargs), LambdaContext())
        return answer["statusCode"], json.loads(answer["body"]) if answer.get("body") else None


_MODULES: dict[str, ModuleType] = {}


def providers(module: ModuleType) -> list[Callable[..., Any]]:
    """The `Depends` providers of a function's routes (none for a function without routes)."""
    found: list[Callable[..., Any]] = []
    for value in vars(module).values():
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            for hint in get_type_hints(value, include_extras=True).values():
                for extra in getattr(hint, "__metadata__", ()):
                    if isinstance(extra, Depends) and extra.dependency not in found:
                        found.append(extra.dependency)
    return found


@pytest.fixture
def api(aws: Any) -> Iterator[Api]:
    calling = Api()
    yield calling
    calling.close()


@pytest.fixture
def seeded(aws: Any) -> None:
    from local_runtime.seed import seed

    seed()
