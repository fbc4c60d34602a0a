"""Session fixtures: DynamoDB Local on a free port, and the local runtime (`make run`) on free ports.

Use them from a conftest with `from tests.support.runtime import *  # noqa: F403` or by name:

- `dynamodb_local_endpoint`: the endpoint of one DynamoDB Local (in memory) for the session;
- `local_runtime`: the running `LocalRuntime` (API, pipe, bus and rules, data platform) on it;
- `api_url`, `data_platform_url`: the base URLs of the API and of the local data platform;
- `dynamodb_client`: a low-level DynamoDB client on DynamoDB Local, to read back the final state;
- `transaction_outcomes`: the functions' TransactWriteItems outcomes during a test (commits and
  cancellations by reason), as the function instances report their AWS calls; `.of(function)`
  for one function's alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
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

# Queues run fast in tests: 180 s of visibility timeout is 0.36 s, and a message goes to its
# dead-letter queue after 5 receives instead of the template's maxReceiveCount.
QUEUE_TIME_SCALE = 0.002
MAX_RECEIVE_COUNT = 5


class TransactionOutcomes(Mapping[str, int]):
    """The TransactWriteItems the functions made since `clear()`, by outcome (`Committed`,
    `Cancelled:<reason>` for each reason of a cancelled one, or the error code), counted from the
    calls each invocation's instance reports.

    All functions' transactions count, those the events of a test start too (each paid order's
    sales count is one): `of(function)` counts one function's alone."""

    _CALL = "dynamodb.TransactWriteItems"

    def __init__(self, functions: Any, *logical_ids: str, since: dict[str, Counter[str]] | None = None) -> None:
        self._functions = functions
        self._logical_ids = logical_ids
        self._since: dict[str, Counter[str]] = {} if since is None else since
        if since is None:
            self.clear()

    def of(self, logical_id: str) -> TransactionOutcomes:
        """The outcomes of `logical_id`'s transactions alone, since the same `clear()` as these."""
        return TransactionOutcomes(self._functions, logical_id, since=self._since)

    def _total(self, *logical_ids: str) -> Counter[str]:
        outcomes: Counter[str] = Counter()
        for call, count in self._functions.calls(*logical_ids).items():
            name, _, outcome = call.partition(" ")
            if name != self._CALL or outcome == "TransactionCanceledException":
                continue
            if outcome == "OK":
                outcomes["Committed"] += count
            elif outcome.startswith("TransactionCanceledException:"):
                outcomes[f"Cancelled:{outcome.partition(':')[2]}"] += count
            else:
                outcomes[outcome] += count
        return outcomes

    def clear(self) -> None:
        """Count from now on (in every `of` view too)."""
        self._since.clear()
        self._since.update((name, self._total(name)) for name in self._functions.functions)

    def _counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for name in self._logical_ids or self._functions.functions:
            counts.update(self._total(name) - self._since.get(name, Counter()))
        return counts

    def __getitem__(self, outcome: str) -> int:
        return self._counts()[outcome]

    def __iter__(self) -> Iterator[str]:
        return iter(self._counts())

    def __len__(self) -> int:
        return len(self._counts())


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
def transaction_outcomes(local_runtime: LocalRuntime) -> TransactionOutcomes:
    """The functions' TransactWriteItems outcomes during one test."""
    return TransactionOutcomes(local_runtime.functions)
