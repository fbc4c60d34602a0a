"""Session fixtures: DynamoDB Local on a free port, and the local runtime (`make run`) on free ports.

Use them from a conftest with `from tests.support.runtime import *  # noqa: F403` or by name:

- `dynamodb_local_endpoint`: the endpoint of one DynamoDB Local (in memory) for the session;
- `local_runtime`: the running `LocalRuntime` (API, pipe, bus and rules, data platform) on it;
- `api_url`, `data_platform_url`: the base URLs of the API and of the local data platform;
- `dynamodb_client`: a low-level DynamoDB client on DynamoDB Local, to read back the final state;
- `transaction_outcomes`: counts of TransactWriteItems cancellations by reason, as the layer saw them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local_runtime import dynamodb_local
from local_runtime.run import LocalRuntime

__all__ = [
    "api_url",
    "data_platform_url",
    "dynamodb_client",
    "dynamodb_local_endpoint",
    "local_runtime",
    "transaction_outcomes",
]  # and QUEUE_TIME_SCALE, MAX_RECEIVE_COUNT: the session runtime's queue settings

_OUTCOMES: Counter[str] = Counter()

# Queues run fast in tests: 180 s of visibility timeout is 0.36 s, and a message goes to its
# dead-letter queue after 5 receives instead of the template's maxReceiveCount.
QUEUE_TIME_SCALE = 0.002
MAX_RECEIVE_COUNT = 5


def _count_transaction(parsed: dict[str, Any], **_: Any) -> None:
    """botocore after-call hook on TransactWriteItems: count successes and each cancellation reason."""
    error = parsed.get("Error", {}).get("Code")
    if not error:
        _OUTCOMES["Committed"] += 1
    elif error == "TransactionCanceledException":
        reasons = {reason.get("Code", "None") for reason in parsed.get("CancellationReasons", [])} - {"None"}
        for code in reasons or {"None"}:
            _OUTCOMES[f"Cancelled:{code}"] += 1
    else:
        _OUTCOMES[error] += 1


@pytest.fixture(scope="session")
def dynamodb_local_endpoint() -> Iterator[str]:
    """One DynamoDB Local, in memory, on a free port, for the session."""
    server = dynamodb_local.start(progress=lambda _: None)
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_runtime(dynamodb_local_endpoint: str) -> Iterator[LocalRuntime]:
    """The whole local runtime on the session's DynamoDB Local: API and data platform on free ports,
    sample data seeded, events flowing; retries fast (tests wait for them), queues too."""
    from shop.repositories import dynamodb

    # Clients the layer makes from now on report their transactions to `transaction_outcomes`.
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("after-call.dynamodb.TransactWriteItems", _count_transaction)
    dynamodb.reset_clients()
    runtime = LocalRuntime(
        api_port=0,
        data_platform_port=0,
        docs_port=0,
        dynamodb_endpoint=dynamodb_local_endpoint,
        log_level="WARNING",
        retry_first_seconds=0.05,
        retry_cap_seconds=0.5,
        queue_time_scale=QUEUE_TIME_SCALE,
        max_receive_count=MAX_RECEIVE_COUNT,
        progress=lambda _: None,
    ).start()
    try:
        yield runtime
    finally:
        runtime.stop()
        dynamodb.reset_clients()


@pytest.fixture(scope="session")
def api_url(local_runtime: LocalRuntime) -> str:
    return local_runtime.url


@pytest.fixture(scope="session")
def data_platform_url(local_runtime: LocalRuntime) -> str:
    return str(local_runtime.data_platform.url)


@pytest.fixture(scope="session")
def dynamodb_client(dynamodb_local_endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_local_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@pytest.fixture
def transaction_outcomes(local_runtime: LocalRuntime) -> Iterator[Counter[str]]:
    """The TransactWriteItems outcomes during one test (fresh counter per test)."""
    _OUTCOMES.clear()
    yield _OUTCOMES
