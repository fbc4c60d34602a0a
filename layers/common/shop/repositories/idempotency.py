"""Idempotency records: Powertools Idempotency's DynamoDB persistence on the idempotency table."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from shop.repositories import dynamodb
from shop.settings import settings


def persistence_layer() -> DynamoDBPersistenceLayer:
    """A persistence layer for one invocation (it keeps the invocation's configuration).

    Its calls are never resent by botocore: a conditional put of the in-progress record resent
    after its answer was lost would find its own record and answer "in progress" to its own request."""
    return DynamoDBPersistenceLayer(table_name=settings().idempotency_table, boto3_client=dynamodb.client())
