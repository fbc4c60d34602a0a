"""A database that stops answering mid-request, as on a bad network: DynamoDB Local paused with
SIGSTOP, then resumed with SIGCONT, while a client with a short timeout retries.

These tests run their own DynamoDB Local and local runtime (pausing the session's would stall
the other tests), and speak only HTTP and DynamoDB. For charges and orders, with and without an
Idempotency-Key, they check that the money moved exactly once (balance and ledger), that no
answer was a 500, and that the ledger's invariant holds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests

from local_runtime import dynamodb_local
from local_runtime.ledger_check import check
from local_runtime.run import LocalRuntime
from tests.e2e.conftest import Client, fresh_id, race
from tests.support.auth import bearer
from tests.support.runtime import TransactionOutcomes

CLIENT_TIMEOUT_SECONDS = 1.0
SHORT_STALL_SECONDS = 2.5  # within the function's time budget: its transaction is resent and lands
LONG_STALL_SECONDS = 17.0  # past the function's budget (15 s timeout): it answers 503 OUTCOME_UNKNOWN
GIVE_UP_AFTER_SECONDS = 60.0


@dataclass
class Faulty:
    """A local runtime on a DynamoDB Local of its own, which the test can pause."""

    url: str
    database: dynamodb_local.DynamoDBLocal
    client: Any
    functions: Any  # the runtime's LocalLambda, whose instances report their AWS calls
    _stalls: list[threading.Thread] = field(default_factory=list)

    def stall(self, seconds: float, after: float = 0.0) -> threading.Thread:
        """Pause the database `after` seconds from now, for `seconds`; returns once it is paused
        (the thread ends once it answers again)."""
        pid = self.database.pid  # the JVM itself, not the watchdog it runs under
        assert pid is not None
        paused = threading.Event()

        def pause() -> None:
            time.sleep(after)
            os.kill(pid, signal.SIGSTOP)
            paused.set()
            try:
                time.sleep(seconds)
            finally:
                os.kill(pid, signal.SIGCONT)

        thread = threading.Thread(target=pause, daemon=True)
        thread.start()
        self._stalls.append(thread)
        assert paused.wait(timeout=after + 10), "the database was not paused"
        return thread

    def resume_all(self) -> None:
        for thread in self._stalls:
            thread.join(timeout=60)
        pid = self.database.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def balance(self, user_id: str) -> int:
        item = self.client.get_item(TableName="BalancesTable", Key={"userId": {"S": user_id}}, ConsistentRead=True)
        return int(item["Item"]["balance"]["N"]) if "Item" in item else 0

    def entries(self, user_id: str) -> list[tuple[str, int]]:
        answer = self.client.query(
            TableName="LedgerTable",
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
            ConsistentRead=True,
        )
        return sorted((item["type"]["S"], int(item["amount"]["N"])) for item in answer["Items"])

    def stock(self, product_id: str) -> int:
        item = self.client.get_item(
            TableName="ProductsTable", Key={"productId": {"S": product_id}}, ConsistentRead=True
        )
        return int(item["Item"]["stock"]["N"])


@pytest.fixture(scope="module")
def faulty() -> Iterator[Faulty]:
    database = dynamodb_local.start(progress=lambda _: None)
    runtime = None
    try:
        runtime = LocalRuntime(
            api_port=0,
            data_platform_port=0,
            dynamodb_endpoint=database.endpoint,
            log_level="ERROR",
            progress=lambda _: None,
        ).start()
        client = boto3.client(
            "dynamodb",
            endpoint_url=database.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        faulty = Faulty(runtime.url, database, client, runtime.functions)
        try:
            yield faulty
        finally:
            faulty.resume_all()
            report = check(client)
            assert report.holds, report.differences
    finally:
        if runtime is not None:
            runtime.stop()
        database.stop()


@dataclass
class Outcome:
    """What a client saw: every answer's status and code (or `timeout`), and the final answer."""

    seen: list[str] = field(default_factory=list)
    final: Any = None
    status: int = 0
    answered_after: float = 0.0  # seconds from the first try to the final answer

    def no_server_error_but_unknown(self) -> None:
        assert not [s for s in self.seen if s.startswith("5") and s != "503 OUTCOME_UNKNOWN"], self.seen

    def met_the_stall(self, seconds: float) -> None:
        """The client's first try went unanswered within its timeout, and its answer came once the
        stall of `seconds` was over (nothing answers while the database is paused; the margin is
        for the moment between the pause and the first try)."""
        assert self.seen[0] == "timeout", self.seen
        assert self.answered_after >= seconds - 0.25, (self.answered_after, self.seen)


def send(
    faulty: Faulty, method: str, path: str, body: Any, key: str | None, user_id: str, timeout: float
) -> tuple[int, Any] | None:
    headers = {**bearer(user_id), **({"Idempotency-Key": key} if key else {})}
    try:
        response = requests.request(method, faulty.url + path, json=body, headers=headers, timeout=timeout)
    except requests.Timeout:
        return None
    return response.status_code, response.json()


def with_key_until_answered(faulty: Faulty, path: str, body: Any, user_id: str) -> Outcome:
    """The careful client with a key: time out after 1 s, retry with the same key until an answer
    that is not 'in progress' or 'unknown'."""
    key = fresh_id("key")
    outcome = Outcome()
    started = time.monotonic()
    deadline = started + GIVE_UP_AFTER_SECONDS
    while time.monotonic() < deadline:
        answer = send(faulty, "POST", path, body, key, user_id, CLIENT_TIMEOUT_SECONDS)
        if answer is None:
            outcome.seen.append("timeout")
            continue
        status, payload = answer
        code = payload.get("code", "") if isinstance(payload, dict) else ""
        outcome.seen.append(f"{status} {code}".strip())
        if code in ("IDEMPOTENCY_IN_PROGRESS", "OUTCOME_UNKNOWN"):
            time.sleep(0.5)
            continue
        outcome.status, outcome.final = status, payload
        outcome.answered_after = time.monotonic() - started
        return outcome
    pytest.fail(f"no answer within {GIVE_UP_AFTER_SECONDS}s: {outcome.seen}")


def without_key_then_history(faulty: Faulty, path: str, body: Any, user_id: str, stall: threading.Thread,
                             applied: Callable[[], bool]) -> Outcome:  # fmt: skip
    """The careful client without a key: waits for the answer; a 503 OUTCOME_UNKNOWN (or its own
    timeout) sends it, once the database answers again, to the history, and it sends the request
    again only if the history does not show it."""
    outcome = Outcome()
    answer = send(faulty, "POST", path, body, None, user_id, 30.0)
    if answer is not None:
        status, payload = answer
        outcome.seen.append(f"{status} {payload.get('code', '')}".strip())
        if status < 500:
            outcome.status, outcome.final = status, payload
            return outcome
    else:
        outcome.seen.append("timeout")
    stall.join(timeout=60)
    time.sleep(0.5)  # Retry-After
    if applied():
        outcome.seen.append("found in the history")
        return outcome
    answer = send(faulty, "POST", path, body, None, user_id, 30.0)
    assert answer is not None
    outcome.status, outcome.final = answer
    outcome.seen.append(f"{answer[0]} {answer[1].get('code', '')}".strip())
    return outcome


def history_shows(faulty: Faulty, user_id: str, entry: tuple[str, int]) -> Callable[[], bool]:
    def shown() -> bool:
        response = requests.get(f"{faulty.url}/users/{user_id}/balance/history", headers=bearer(user_id), timeout=30)
        return any((e["type"], e["amount"]) == entry for e in response.json()["items"])

    return shown


def fund(faulty: Faulty, user_id: str, amount: int) -> None:
    answer = send(faulty, "POST", f"/users/{user_id}/balance/charge", {"amount": amount}, None, user_id, 30.0)
    assert answer is not None and answer[0] == 200, answer


@pytest.mark.parametrize("stall_seconds", [SHORT_STALL_SECONDS, LONG_STALL_SECONDS])
def test_a_charge_with_a_key_through_a_stall_moves_the_money_once(faulty: Faulty, stall_seconds: float) -> None:
    user = fresh_id("u")
    stall = faulty.stall(stall_seconds)
    outcome = with_key_until_answered(faulty, f"/users/{user}/balance/charge", {"amount": 7_000}, user)
    stall.join(timeout=60)
    outcome.no_server_error_but_unknown()
    outcome.met_the_stall(stall_seconds)
    assert (outcome.status, outcome.final) == (200, {"userId": user, "balance": 7_000}), outcome.seen
    assert faulty.balance(user) == 7_000
    assert faulty.entries(user) == [("CHARGE", 7_000)]


def test_a_charge_without_a_key_through_a_long_stall_is_never_a_500_and_the_history_tells(faulty: Faulty) -> None:
    user = fresh_id("u")
    stall = faulty.stall(LONG_STALL_SECONDS)
    path = f"/users/{user}/balance/charge"
    outcome = without_key_then_history(
        faulty, path, {"amount": 7_000}, user, stall, history_shows(faulty, user, ("CHARGE", 7_000))
    )
    outcome.no_server_error_but_unknown()
    assert outcome.seen[0] == "503 OUTCOME_UNKNOWN", outcome.seen
    assert faulty.balance(user) == 7_000
    assert faulty.entries(user) == [("CHARGE", 7_000)]


@pytest.mark.parametrize("stall_seconds", [SHORT_STALL_SECONDS, LONG_STALL_SECONDS])
def test_an_order_with_a_key_through_a_stall_is_paid_once(faulty: Faulty, stall_seconds: float) -> None:
    user = fresh_id("u")
    fund(faulty, user, 100_000)
    stock = faulty.stock("p-mouse")
    body = {"userId": user, "items": [{"productId": "p-mouse", "quantity": 1}]}
    stall = faulty.stall(stall_seconds)
    outcome = with_key_until_answered(faulty, "/orders", body, user)
    stall.join(timeout=60)
    outcome.no_server_error_but_unknown()
    outcome.met_the_stall(stall_seconds)
    assert outcome.status == 201, outcome.seen
    paid = outcome.final["paidAmount"]
    assert faulty.balance(user) == 100_000 - paid
    assert faulty.entries(user) == sorted([("CHARGE", 100_000), ("PAYMENT", paid)])
    assert faulty.stock("p-mouse") == stock - 1


def test_an_order_without_a_key_through_a_long_stall_is_never_a_500_and_the_orders_tell(faulty: Faulty) -> None:
    user = fresh_id("u")
    fund(faulty, user, 100_000)
    stock = faulty.stock("p-mouse")
    body = {"userId": user, "items": [{"productId": "p-mouse", "quantity": 1}]}

    def placed() -> bool:
        response = requests.get(f"{faulty.url}/users/{user}/orders", headers=bearer(user), timeout=30)
        return bool(response.json()["items"])

    stall = faulty.stall(LONG_STALL_SECONDS)
    outcome = without_key_then_history(faulty, "/orders", body, user, stall, placed)
    outcome.no_server_error_but_unknown()
    assert outcome.seen[0] == "503 OUTCOME_UNKNOWN", outcome.seen
    orders = requests.get(f"{faulty.url}/users/{user}/orders", headers=bearer(user), timeout=30).json()["items"]
    assert len(orders) == 1
    paid = orders[0]["paidAmount"]
    assert faulty.balance(user) == 100_000 - paid
    assert faulty.entries(user) == sorted([("CHARGE", 100_000), ("PAYMENT", paid)])
    assert faulty.stock("p-mouse") == stock - 1


RACE_STALL_SECONDS = 5.0  # past botocore's 3 s read timeout: every transaction in flight is resent with its token


def test_a_stock_race_through_a_stall_sells_the_stock_once(faulty: Faulty) -> None:
    """60 buyers for 10 in stock; once 3 are sold, and again once 6 are, the database stops
    answering for 5 s: transactions in flight lose their answers and are sent again with their
    tokens. Every unit is sold at most once
    and paid once, and every 201 names an order stored for its own buyer."""
    api = Client(faulty.url)
    product = api.as_user("e2e-admin", admin=True).ok(
        "POST", "/products", {"name": "Stalled", "price": 1000, "stock": 10}
    )
    buyers = [fresh_id("buyer") for _ in range(60)]
    funded, _ = race([lambda b=b: api.as_user(b).post(f"/users/{b}/balance/charge", {"amount": 1000}) for b in buyers])
    assert funded == Counter({"200": 60})
    line = {"productId": product["productId"], "quantity": 1}

    def stall_as_units_sell() -> None:  # then transactions are in flight
        deadline = time.monotonic() + GIVE_UP_AFTER_SECONDS
        for sold in (3, 6):
            while faulty.stock(product["productId"]) > 10 - sold and time.monotonic() < deadline:
                time.sleep(0.01)
            faulty.stall(RACE_STALL_SECONDS).join()

    placements = TransactionOutcomes(faulty.functions).of("OrderPlacementFunction")
    stall = threading.Thread(target=stall_as_units_sell)
    stall.start()
    codes, answers = race(
        [lambda b=b: api.as_user(b).post("/orders", {"userId": b, "items": [line]}) for b in buyers], clients=60
    )
    stall.join(timeout=60)
    faulty.resume_all()

    waited = sorted(round(answer.answered_at - answer.sent_at, 1) for answer in answers)
    print(f"stock race through a stall: {dict(codes)}; order transactions: {dict(placements)}; seconds: {waited}")
    assert placements["ReadTimeoutError"] > 0, "no transaction lost its answer"
    assert set(codes) <= {"201", "409 OUT_OF_STOCK", "503 OUTCOME_UNKNOWN"}, codes
    orders = [
        item
        for item in faulty.client.scan(TableName="OrdersTable", ConsistentRead=True)["Items"]
        if any(i["M"]["productId"]["S"] == product["productId"] for i in item["items"]["L"])
    ]
    stored = {item["orderId"]["S"]: item["userId"]["S"] for item in orders}
    answered = {n: answer.body["orderId"] for n, answer in enumerate(answers) if answer.status == 201}
    assert faulty.stock(product["productId"]) == 10 - len(stored) >= 0
    assert len(answered) == len(set(answered.values())), "one order answered twice"
    assert all(stored.get(order_id) == buyers[n] for n, order_id in answered.items()), (answered, stored)
    assert sorted(faulty.balance(b) for b in buyers) == sorted(0 if b in stored.values() else 1000 for b in buyers)
