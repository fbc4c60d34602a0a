"""Integration tests: the repositories and services on DynamoDB Local, tables built from template.yaml."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local_runtime.tables import create_tables, truncate_tables
from shop.repositories import dynamodb
from tests.support.runtime import *  # noqa: F403 (the session's DynamoDB Local)


@pytest.fixture
def local_db(dynamodb_local_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The layer pointed at DynamoDB Local, the template's tables present and empty."""
    monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", dynamodb_local_endpoint)
    dynamodb.reset_clients()
    client = boto3.client("dynamodb", endpoint_url=dynamodb_local_endpoint)
    create_tables(client)
    truncate_tables(client)
    yield client
    dynamodb.reset_clients()
    os.environ.pop("DYNAMODB_ENDPOINT_URL", None)
