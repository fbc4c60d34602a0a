"""Which DynamoDB actions each function's code calls, recorded while its handler runs in a test.

A botocore hook on the default session (the one the layer's clients are made from) sees every
DynamoDB call before it is sent, with its parameters; while a handler runs (`running`), each call
is recorded for that function as the IAM actions it needs and the tables (or indexes) it needs them
on. A transaction needs, per item, PutItem, UpdateItem, DeleteItem or ConditionCheckItem on that
item's table (IAM authorises each item so); a batch needs its batch action on each table."""

from __future__ import annotations

import contextvars
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

WRITES = frozenset({"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"})
_TRANSACT_WRITE_ITEM = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


@dataclass(frozen=True, order=True)
class Call:
    """An IAM action a call needs on one table (or one of its indexes)."""

    action: str
    table: str
    index: str | None = None
    operation: str = ""  # the API call that needed it (TransactWriteItems for a transaction's Put)

    @property
    def writes(self) -> bool:
        return self.action in WRITES


def calls_of(operation: str, params: dict[str, Any]) -> list[Call]:
    """The actions one API call needs."""
    if operation == "TransactWriteItems":
        return [
            Call(_TRANSACT_WRITE_ITEM[kind], body["TableName"], operation=operation)
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if operation == "TransactGetItems":
        return [
            Call("dynamodb:GetItem", item["Get"]["TableName"], operation=operation) for item in params["TransactItems"]
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [Call(f"dynamodb:{operation}", table, operation=operation) for table in params["RequestItems"]]
    if "TableName" in params:
        return [Call(f"dynamodb:{operation}", params["TableName"], params.get("IndexName"), operation)]
    return [Call(f"dynamodb:{operation}", "*", operation=operation)]


_running: contextvars.ContextVar[str | None] = contextvars.ContextVar("function", default=None)
RECORDED: defaultdict[str, set[Call]] = defaultdict(set)
"""By function logical id: every action its handler's calls needed so far in this test process."""


def _record(params: dict[str, Any], model: Any, **_: Any) -> None:
    function = _running.get()
    if function is not None:
        RECORDED[function].update(calls_of(model.name, params))


def install() -> None:
    """Record from now on, on the default session (a client made before this, or from another
    session, does not record: call it before the layer makes its clients)."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-parameter-build.dynamodb", _record, unique_id=__name__)


@contextmanager
def running(function: str) -> Iterator[None]:
    token = _running.set(function)
    try:
        yield
    finally:
        _running.reset(token)


def recorded(function: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`handler`, recording its DynamoDB calls as `function`'s."""

    def run(event: Any, context: Any) -> Any:
        with running(function):
            return handler(event, context)

    return run
