"""Events through the local runtime: an order placed over HTTP goes down the order table's stream,
through the pipe onto the bus, and the rules deliver it to the data platform forwarder and to the
sales counter, retrying a target that fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from moto.events.models import EventPattern

from local_runtime.events import Backoff, EventBus, RetryPolicy, Rule, pipe_definitions
from local_runtime.functions import FunctionError
from local_runtime.run import LocalRuntime
from tests.e2e.conftest import Client, fresh_id
from tests.support.lambda_events import sample

WAIT_SECONDS = 10


def eventually(check: Callable[[], Any], seconds: float = WAIT_SECONDS) -> Any:
    """The first truthy result of `check`, polled until `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def place_order(api: Client, quantity: int = 1, price: int = 1000) -> dict[str, Any]:
    user = fresh_id("shopper")
    product = api.ok("POST", "/products", {"name": f"Thing {user}", "price": price, "stock": quantity})
    api.ok("POST", f"/users/{user}/balance/charge", {"amount": price * quantity})
    order = api.ok(
        "POST", "/orders", {"userId": user, "items": [{"productId": product["productId"], "quantity": quantity}]}
    )
    assert order["status"] == "PAID"
    return order  # type: ignore[no-any-return]


def test_an_order_placed_over_http_reaches_the_data_platform(api: Client, data_platform: Client) -> None:
    started = time.monotonic()
    order = place_order(api)

    received = eventually(lambda: data_platform.get(f"/orders/{order['orderId']}").status == 200)

    assert received, f"order {order['orderId']} did not reach the data platform in {WAIT_SECONDS}s"
    print(f"order reached the data platform in {time.monotonic() - started:.2f}s")
    record = data_platform.get(f"/orders/{order['orderId']}").body
    assert {k: v for k, v in record.items() if k != "receivedAt"} == order
    listed = data_platform.get("/orders").body
    assert order["orderId"] in {item["orderId"] for item in listed["items"]}


def test_the_sales_counter_updates_the_popular_ranking(api: Client) -> None:
    order = place_order(api, quantity=5000, price=1)  # more units than any other test sells
    product_id = order["items"][0]["productId"]

    def ranked() -> Any:
        items = api.get("/products/popular").body["items"]
        return next((item for item in items if item["productId"] == product_id), None)

    entry = eventually(ranked)

    assert entry, f"{product_id} not in the popular ranking within {WAIT_SECONDS}s"
    assert entry["rank"] == 1
    assert entry["soldQuantity"] == 5000


def test_a_failing_target_is_retried_until_it_succeeds(
    api: Client, data_platform: Client, local_runtime: LocalRuntime
) -> None:
    bus = local_runtime.events.buses["ShopEventBus"]
    failed_before, dead_before = bus.failed_attempts, len(bus.dead_letters)
    data_platform.ok("POST", "/faults", {"failNext": 3})

    order = place_order(api)

    assert eventually(lambda: data_platform.get(f"/orders/{order['orderId']}").status == 200)
    assert bus.failed_attempts - failed_before == 3
    assert len(bus.dead_letters) == dead_before


def test_the_pipe_puts_only_inserts_on_the_bus() -> None:
    (pipe,) = pipe_definitions()
    assert (pipe.table, pipe.bus, pipe.source, pipe.detail_type) == (
        "OrdersTable",
        "ShopEventBus",
        "shop.orders",
        "OrderCompleted",
    )
    insert = sample("sales_counter.json")["detail"]
    assert any(f.matches_event(insert) for f in pipe.filters)
    assert not any(f.matches_event({**insert, "eventName": "MODIFY"}) for f in pipe.filters)
    assert not any(f.matches_event({**insert, "eventName": "REMOVE"}) for f in pipe.filters)


def test_a_target_that_keeps_failing_ends_as_a_dead_letter() -> None:
    calls: list[dict[str, Any]] = []

    def target(event: dict[str, Any]) -> None:
        calls.append(event)
        raise FunctionError("Broken", RuntimeError("down"))

    rule = Rule(
        name="Broken.OrderCompleted",
        bus="Bus",
        pattern=EventPattern.load('{"source": ["shop.orders"]}'),
        target=target,  # type: ignore[arg-type]
        retry=RetryPolicy(maximum_retry_attempts=2, maximum_event_age_seconds=60),
    )
    bus = EventBus("Bus", [rule], backoff=Backoff(0.01, 0.02))
    try:
        event = sample("sales_counter.json")
        bus.put_events([event, {**event, "source": "someone.else"}])
        assert bus.wait_idle(5)
    finally:
        bus.stop()

    assert len(calls) == 3  # the first try and MaximumRetryAttempts retries; the other source never matched
    assert [(letter.rule, letter.attempts) for letter in bus.dead_letters] == [("Broken.OrderCompleted", 3)]
