"""DynamoDB clients and the conversions every repository shares."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from shop import budget
from shop.errors import ConcurrentUpdate, InvalidCursor, OutcomeUnknown
from shop.ids import SEQUENCE_CLOCK_DIGITS, SEQUENCE_CURSOR_PATTERN
from shop.retry import Backoff, Sleep, retry
from shop.settings import settings

# Short timeouts and few attempts: a stalled call fails well within a function's 10 s.
_CONFIG = Config(
    retries={"total_max_attempts": 3, "mode": "standard"},
    connect_timeout=1,
    read_timeout=3,
    max_pool_connections=50,
)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


_SINGLE_ATTEMPT = _CONFIG.merge(Config(retries={"total_max_attempts": 1, "mode": "standard"}))


LOST_ANSWER = (ConnectionError, HTTPClientError)
"""What botocore raises when a request got no answer: a connect or read timeout, a connection
refused or reset. The request may have been applied."""


def _outcome_unknown_on_lost_answer(exception: Exception, **_: Any) -> None:
    """botocore's `after-call-error` hook (its last attempt failed): a call whose answer was lost
    leaves the repositories as OutcomeUnknown, never as a botocore error."""
    if isinstance(exception, LOST_ANSWER):
        raise OutcomeUnknown() from exception


def _answering_outcome_unknown(client: Any) -> Any:
    client.meta.events.register("after-call-error.dynamodb", _outcome_unknown_on_lost_answer)
    return client


@cache
def _resource(endpoint_url: str, single_attempt: bool = False) -> Any:
    config = _SINGLE_ATTEMPT if single_attempt else _CONFIG
    resource = boto3.resource("dynamodb", endpoint_url=endpoint_url or None, config=config)
    _answering_outcome_unknown(resource.meta.client)
    return resource


def resource() -> Any:
    """The DynamoDB resource for the configured endpoint, created once per container."""
    return _resource(settings().dynamodb_endpoint_url)


@cache
def _client(endpoint_url: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint_url or None, config=_SINGLE_ATTEMPT)


def single_attempt_resource() -> Any:
    """The resource for writes that must not be resent by botocore (see `update_item_once`)."""
    return _resource(settings().dynamodb_endpoint_url, True)


def client() -> Any:
    """The low-level client (DynamoDB JSON in and out) whose calls botocore never resends: for
    transactions, whose resending (same token, within the time budget) `transact_write` decides,
    and for the idempotency records. Its lost answers stay botocore errors (`LOST_ANSWER`): the
    caller decides (see `transact_write`)."""
    return _client(settings().dynamodb_endpoint_url)


@cache
def _reading_client(endpoint_url: str) -> Any:
    return _answering_outcome_unknown(boto3.client("dynamodb", endpoint_url=endpoint_url or None, config=_CONFIG))


def reading_client() -> Any:
    """A low-level client (DynamoDB JSON in and out) whose calls botocore retries as it does the
    resource's: for reads, which are safe to send again (the reconciliation's scans)."""
    return _reading_client(settings().dynamodb_endpoint_url)


def table(name: str) -> Any:
    """The table's resource (boto3 builds a resource class on every `Table()`: made once per
    container and endpoint)."""
    return _table(settings().dynamodb_endpoint_url, name)


@cache
def _table(endpoint_url: str, name: str) -> Any:
    return _resource(endpoint_url).Table(name)


MAX_ATTEMPTS = 8
BACKOFF = Backoff(first_seconds=0.04, cap_seconds=0.5, max_attempts=MAX_ATTEMPTS)
"""The layer's retries of a call that was not applied (a conflict, throttling, unprocessed keys):
at most MAX_ATTEMPTS in all, the first retry after up to 40 ms, doubled for each retry after it,
at most 500 ms."""


_NOT_APPLIED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
}


def update_item_once(table_name: str, *, sleep: Sleep = time.sleep, **update: Any) -> Any:
    """An UpdateItem that is never sent again once it may have been applied.

    botocore retries a request whose answer was lost (a connection reset, a 500); an `ADD` sent
    twice adds twice. This update is retried (`BACKOFF`) only after an answer saying it was not
    applied (throttling); any other failure reaches the caller, who cannot tell whether it applied."""
    return retry(
        lambda: single_attempt_resource().Table(table_name).update_item(**update),
        retry_on=lambda error: isinstance(error, ClientError) and error_code(error) in _NOT_APPLIED,
        backoff=BACKOFF,
        sleep=sleep,
    )


def reset_clients() -> None:
    """Forget cached clients (tests switch between emulators)."""
    _resource.cache_clear()
    _client.cache_clear()
    _reading_client.cache_clear()
    _table.cache_clear()


def plain(value: Any) -> Any:
    """A DynamoDB value with its Decimals turned into ints (the shop stores no fractions)."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def to_attribute_values(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict as DynamoDB JSON (the low-level client's format)."""
    return {k: dict(_serializer.serialize(v)) for k, v in item.items()}


def from_attribute_values(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB JSON (a stream image, a cancellation's item) as a plain dict."""
    return {k: plain(_deserializer.deserialize(v)) for k, v in item.items()}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_condition_failure(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def cancellation_reasons(error: ClientError) -> list[dict[str, Any]]:
    """The per-item reasons of a cancelled transaction, in the order the items were given."""
    return [dict(reason) for reason in error.response.get("CancellationReasons", [])]


_RETRYABLE_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}

_OUTCOME_UNKNOWN_CODES = {"TransactionInProgressException", "InternalServerError", "ServiceUnavailable"}
"""Errors after which the transaction may be applied (or still running): resent with its token."""

ATTEMPT_SECONDS = 4.0
"""The longest one attempt takes before botocore gives up on it (connect and read timeouts)."""

_RESEND_PAUSE_SECONDS = 0.1


def transact_write(
    items: list[dict[str, Any]],
    refusal: Callable[[list[dict[str, Any]]], Exception],
    *,
    client: Any | None = None,
    sleep: Sleep = time.sleep,
) -> None:
    """Run one TransactWriteItems, retrying conflicts with concurrent changes, resending it while
    its outcome is unknown.

    When a condition fails, `refusal` reads the cancellation reasons (one per item, in order)
    and returns the exception to raise. A cancellation caused only by a conflict with a
    concurrent transaction (or throttling) is tried again after `BACKOFF`'s pause, at most
    MAX_ATTEMPTS times, then answered with `ConcurrentUpdate`.

    An attempt that got no answer (a timeout of any kind, a connection lost, a 500, a
    TransactionInProgressException) is sent again with the same ClientRequestToken, which DynamoDB
    applies at most once (for 10 minutes), as long as the invocation's time budget allows another
    whole attempt; then `OutcomeUnknown`. A cancellation, which applied nothing, takes a new token.

    `client` is a low-level client (default: `client()`); `sleep` makes every pause.
    """
    database = client if client is not None else _client(settings().dynamodb_endpoint_url)
    token = uuid.uuid4().hex
    conflicts = BACKOFF.attempts(sleep)
    next(conflicts)
    while True:
        try:
            database.transact_write_items(TransactItems=items, ClientRequestToken=token)
            return
        except LOST_ANSWER as error:
            unknown: BaseException = error
        except ClientError as error:
            code = error_code(error)
            if code == "TransactionCanceledException":
                reasons = cancellation_reasons(error)
                if any(map(failed_condition, reasons)):
                    raise refusal(reasons) from error
                if not any(reason.get("Code") in _RETRYABLE_REASONS for reason in reasons):
                    raise
                if next(conflicts, None) is None:
                    raise ConcurrentUpdate() from error
                token = uuid.uuid4().hex
                continue
            if code in _NOT_APPLIED:
                if next(conflicts, None) is None:
                    raise ConcurrentUpdate() from error
                continue
            if code not in _OUTCOME_UNKNOWN_CODES:
                raise
            unknown = error
        if budget.remaining() < ATTEMPT_SECONDS + _RESEND_PAUSE_SECONDS:
            raise OutcomeUnknown() from unknown
        sleep(_RESEND_PAUSE_SECONDS)


def newest_first(
    table: Any,
    index: str,
    user_id: str,
    id_attribute: str,
    limit: int,
    cursor: str | None,
    *,
    consistent: bool,
) -> tuple[list[Any], str | None]:
    """One page of a user's items on a time-ordered index (partition key `userId`, sort key `seq`
    of `shop.ids.sequence`), newest first, and the cursor of the next page (None after the last).
    `consistent` only where the index allows it (a local index)."""
    query: dict[str, Any] = {
        "IndexName": index,
        "KeyConditionExpression": "userId = :user",
        "ExpressionAttributeValues": {":user": user_id},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if consistent:
        query["ConsistentRead"] = True
    if cursor is not None:
        seq, item_id = sequence_at(cursor)
        query["ExclusiveStartKey"] = {"userId": user_id, id_attribute: item_id, "seq": seq}
    answer = table.query(**query)
    last = answer.get("LastEvaluatedKey")
    return list(answer.get("Items", [])), sequence_cursor(str(last["seq"])) if last else None


def sequence_cursor(seq: str) -> str:
    """A time-ordered page's cursor: the last item's sort key (`shop.ids.sequence`) without its
    separator, so that it is an opaque string of `SEQUENCE_CURSOR_PATTERN`."""
    return seq.replace("#", "", 1)


def sequence_at(cursor: str) -> tuple[str, str]:
    """The sort key and the item id a cursor of `sequence_cursor` names. Any cursor of the pattern
    is a position (one the API did not answer starts after where that key would be);
    InvalidCursor for anything else."""
    if not re.fullmatch(SEQUENCE_CURSOR_PATTERN, cursor):
        raise InvalidCursor()
    moment, item_id = cursor[:SEQUENCE_CLOCK_DIGITS], cursor[SEQUENCE_CLOCK_DIGITS:]
    return f"{moment}#{item_id}", item_id


def failed_condition(reason: Mapping[str, Any]) -> bool:
    return reason.get("Code") == "ConditionalCheckFailed"


def old_item(reason: Mapping[str, Any]) -> dict[str, Any] | None:
    """The item as it was when its condition failed (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    item = reason.get("Item")
    return from_attribute_values(item) if item else None
