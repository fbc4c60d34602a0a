"""End-to-end tests: HTTP through the local runtime (its gateway, a process per function instance) on DynamoDB Local."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from local_runtime.ledger_check import check
from tests.support.auth import bearer
from tests.support.runtime import *  # noqa: F403 (the session fixtures)

_local = threading.local()


def _session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session  # type: ignore[no-any-return]


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        """ "201" for a success, "409 COUPON_SOLD_OUT" for a refusal."""
        if self.status < 300:
            return str(self.status)
        code = self.body.get("code") if isinstance(self.body, dict) else None
        return f"{self.status} {code or self.body}"


class Client:
    """A small JSON client of the API (one keep-alive connection per thread)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url
        self.headers = headers or {}

    def as_user(self, user_id: str, *, admin: bool = False) -> Client:
        """The same client, calling with `user_id`'s bearer token."""
        return Client(self.base_url, bearer(user_id, admin=admin))

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        response = _session().request(
            method, self.base_url + path, json=body, headers={**self.headers, **(headers or {})}, timeout=60
        )
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        return Answer(response.status_code, payload, dict(response.headers))

    def get(self, path: str) -> Answer:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None) -> Answer:
        return self.call("POST", path, body)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.call(method, path, body)
        assert answer.status < 300, f"{method} {path}: {answer}"
        return answer.body


def race(calls: list[Callable[[], Answer]], clients: int = 64) -> tuple[Counter[str], list[Answer]]:
    """Run the calls from `clients` threads that start together, each taking the next call as it
    finishes one; count the answers by code."""
    workers = min(clients, len(calls))
    start = threading.Barrier(workers)
    answers: list[Answer | None] = [None] * len(calls)
    next_call = iter(range(len(calls)))
    lock = threading.Lock()

    def work() -> None:
        start.wait(timeout=60)
        while True:
            with lock:
                index = next(next_call, None)
            if index is None:
                return
            try:
                answers[index] = calls[index]()
            except requests.RequestException as error:
                answers[index] = Answer(0, f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    done = [answer if answer is not None else Answer(0, "not run") for answer in answers]
    return Counter(answer.code for answer in done), done


def fresh_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


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
