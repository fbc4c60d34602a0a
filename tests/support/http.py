"""A small JSON client of the API and concurrent races on it, for the suites that speak HTTP to a
running shop (`tests/e2e` on the local runtime, `tests/remote` on any URL)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

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
    sent_at: float = field(default=0.0, compare=False)  # time.monotonic(), set by `race`
    answered_at: float = field(default=0.0, compare=False)

    @property
    def code(self) -> str:
        """ "201" for a success, "409 COUPON_SOLD_OUT" for a refusal."""
        if self.status < 300:
            return str(self.status)
        code = self.body.get("code") if isinstance(self.body, dict) else None
        return f"{self.status} {code or self.body}"


class Client:
    """A small JSON client of the API (one keep-alive connection per thread)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None, timeout: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers or {}
        self.timeout = timeout

    def with_headers(self, headers: dict[str, str]) -> Client:
        """The same client, sending `headers` too (a user's `Authorization`, say)."""
        return Client(self.base_url, {**self.headers, **headers}, self.timeout)

    def as_user(self, user_id: str, *, admin: bool = False) -> Client:
        """The same client, calling with `user_id`'s bearer token of the local issuer."""
        from tests.support.auth import bearer

        return Client(self.base_url, bearer(user_id, admin=admin), self.timeout)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        response = _session().request(
            method, self.base_url + path, json=body, headers={**self.headers, **(headers or {})}, timeout=self.timeout
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
    finishes one; count the answers by code. Each answer keeps when its request was sent and
    when it was answered (`most_in_flight`)."""
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
            sent_at = time.monotonic()
            try:
                answer = calls[index]()
            except requests.RequestException as error:
                answer = Answer(0, f"{type(error).__name__}: {error}")
            answer.sent_at, answer.answered_at = sent_at, time.monotonic()
            answers[index] = answer

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    done = [answer if answer is not None else Answer(0, "not run") for answer in answers]
    return Counter(answer.code for answer in done), done


def most_in_flight(answers: list[Answer]) -> int:
    """The most requests of a race that were in flight at once (sent and not yet answered)."""
    moments = sorted(
        [(answer.sent_at, 1) for answer in answers if answer.sent_at]
        + [(answer.answered_at, -1) for answer in answers if answer.sent_at]
    )  # an answer before a request sent at the same moment
    most = in_flight = 0
    for _, change in moments:
        in_flight += change
        most = max(most, in_flight)
    return most


def no_server_errors(answers: list[Answer]) -> None:
    """No answer was a 5xx, nor a connection that failed."""
    failures = [answer for answer in answers if answer.status >= 500 or answer.status == 0]
    assert not failures, f"{len(failures)} server errors, e.g. {failures[:3]}"


def fresh_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
