"""Through HTTP: the ledger and order routes, idempotency keys, and `make ledger-check`."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from local_runtime.ledger_check import check
from local_runtime.template import ROOT
from tests.e2e.conftest import Client, fresh_id


def test_a_charge_with_a_key_is_answered_once_and_replayed(api: Client) -> None:
    user = fresh_id("u")
    client = api.as_user(user)
    key = {"Idempotency-Key": fresh_id("k")}
    first = client.call("POST", f"/users/{user}/balance/charge", {"amount": 7_000}, headers=key)
    again = client.call("POST", f"/users/{user}/balance/charge", {"amount": 7_000}, headers=key)
    assert (first.status, first.body) == (200, {"userId": user, "balance": 7_000})
    assert (again.status, again.body, again.headers.get("Idempotent-Replayed")) == (200, first.body, "true")
    other = client.call("POST", f"/users/{user}/balance/charge", {"amount": 1}, headers=key)
    assert (other.status, other.body["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    bad = client.call("POST", f"/users/{user}/balance/charge", {"amount": 1}, headers={"Idempotency-Key": "x" * 256})
    assert (bad.status, bad.body["code"]) == (400, "INVALID_REQUEST")
    history = client.ok("GET", f"/users/{user}/balance/history")
    assert [(e["type"], e["amount"]) for e in history["items"]] == [("CHARGE", 7_000)]


def test_an_order_shows_in_the_history_and_the_users_orders(api: Client) -> None:
    user = fresh_id("u")
    client = api.as_user(user)
    client.ok("POST", f"/users/{user}/balance/charge", {"amount": 100_000})
    key = {"Idempotency-Key": fresh_id("k")}
    body = {"userId": user, "items": [{"productId": "p-mouse", "quantity": 1}]}
    placed = client.call("POST", "/orders", body, headers=key)
    assert placed.status == 201, placed
    replay = client.call("POST", "/orders", body, headers=key)
    assert (replay.status, replay.body["orderId"], replay.headers.get("Idempotent-Replayed")) == (
        201,
        placed.body["orderId"],
        "true",
    )
    orders = client.ok("GET", f"/users/{user}/orders")
    assert [o["orderId"] for o in orders["items"]] == [placed.body["orderId"]]
    assert client.ok("GET", f"/orders/{placed.body['orderId']}") == placed.body
    entries = client.ok("GET", f"/users/{user}/balance/history?limit=1")
    assert [(e["type"], e["orderId"], e["amount"]) for e in entries["items"]] == [
        ("PAYMENT", placed.body["orderId"], placed.body["paidAmount"])
    ]
    rest = client.ok("GET", f"/users/{user}/balance/history?limit=1&cursor={entries['nextCursor']}")
    assert [(e["type"], e["amount"]) for e in rest["items"]] == [("CHARGE", 100_000)]
    balance = client.ok("GET", f"/users/{user}/balance")["balance"]
    assert balance == 100_000 - placed.body["paidAmount"]
    missing = client.get("/orders/o-none")
    assert (missing.status, missing.body["code"]) == (404, "ORDER_NOT_FOUND")


def test_ledger_check_holds_on_the_runtimes_data(dynamodb_client: Any, dynamodb_local_endpoint: str) -> None:
    report = check(dynamodb_client)
    assert report.holds, report.differences
    assert report.users > 0 and report.entries > 0
    run = subprocess.run(
        [sys.executable, "-m", "local_runtime.ledger_check", "--endpoint", dynamodb_local_endpoint],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ledger invariant holds" in run.stdout


def test_ledger_check_finds_a_balance_changed_past_the_ledger(dynamodb_client: Any) -> None:
    user = fresh_id("u")
    dynamodb_client.put_item(TableName="BalancesTable", Item={"userId": {"S": user}, "balance": {"N": "5"}})
    try:
        report = check(dynamodb_client)
        assert not report.holds
        assert any(user in difference for difference in report.differences)
    finally:
        dynamodb_client.delete_item(TableName="BalancesTable", Key={"userId": {"S": user}})
