"""End-to-end tests: HTTP through the local runtime (`make run`: its gateway, each function instance in
a process of its own) on DynamoDB Local."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local_runtime.ledger_check import check
from tests.support.http import Answer, Client, fresh_id, most_in_flight, race
from tests.support.runtime import *  # noqa: F403 (the session fixtures)

__all__ = ["Answer", "Client", "fresh_id", "most_in_flight", "race"]  # the suite's modules import them from here


@pytest.fixture(scope="session", autouse=True)
def ledger_invariant_after_the_run(dynamodb_client: Any) -> Iterator[None]:
    """After every e2e run, on the session's DynamoDB Local: for every user, charges minus
    payments equal the balance, and every order has its PAYMENT entry (`make ledger-check`)."""
    yield
    if "LedgerTable" not in dynamodb_client.list_tables()["TableNames"]:
        return  # no test of this run started the session's runtime
    report = check(dynamodb_client)
    assert report.holds, report.differences[:20]


@pytest.fixture(scope="session")
def api(api_url: str) -> Client:
    return Client(api_url)


@pytest.fixture(scope="session")
def admin(api: Client) -> Client:
    """The API, called by a member of the admin group (catalogue administration)."""
    return api.as_user("e2e-admin", admin=True)


@pytest.fixture(scope="session")
def data_platform(data_platform_url: str) -> Client:
    return Client(data_platform_url)
