"""Events through the local runtime: an order placed over HTTP goes down the order table's stream,
through the pipe onto the bus, and the rules deliver it to the data platform queue (read by the
forwarder) and to the sales counter; a failed delivery is received again from the queue until it
succeeds or, past maxReceiveCount, goes to the dead-letter queue.

Each part alone (the bus, the queues, the SQS event source, the pipe, the template's definitions)
has its own tests in tests/unit/local_runtime and tests/integration/local_runtime."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from local_runtime.run import LocalRuntime
from local_runtime.template import (
    RetryPolicy,
)
from tests.e2e.conftest import Client, fresh_id
from tests.support import polling
from tests.support.lambda_events import sample
from tests.support.runtime import MAX_RECEIVE_COUNT

WAIT_SECONDS = 10


def eventually(check: Callable[[], Any], seconds: float = WAIT_SECONDS) -> Any:
    return polling.eventually(check, seconds, every=0.1)


def place_order(api: Client, quantity: int = 1, price: int = 1000) -> dict[str, Any]:
    user = fresh_id("shopper")
    product = api.as_user("e2e-admin", admin=True).ok(
        "POST", "/products", {"name": f"Thing {user}", "price": price, "stock": quantity}
    )
    shopper = api.as_user(user)
    shopper.ok("POST", f"/users/{user}/balance/charge", {"amount": price * quantity})
    order = shopper.ok(
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


def received(data_platform: Client, order_id: str) -> bool:
    return data_platform.get(f"/orders/{order_id}").status == 200


def listed(data_platform: Client, order_id: str) -> int:
    """How many times the data platform lists the order."""
    return [item["orderId"] for item in data_platform.get("/orders").body["items"]].count(order_id)


def test_a_failed_delivery_is_received_again_until_it_succeeds(
    api: Client, data_platform: Client, local_runtime: LocalRuntime
) -> None:
    queue = local_runtime.events.queues["DataPlatformQueue"]
    source = local_runtime.events.event_sources["DataPlatformForwarderFunction.OrderCompleted"]
    assert eventually(lambda: queue.depth == 0), "an earlier delivery is still pending"
    failed_before, dead_before = source.failed_records, len(local_runtime.events.dead_letters)
    failures = MAX_RECEIVE_COUNT - 2
    data_platform.ok("POST", "/faults", {"failNext": failures})

    order = place_order(api)

    assert eventually(lambda: received(data_platform, order["orderId"])), "the order never arrived"
    assert source.failed_records - failed_before == failures  # each failed POST: one redelivery
    assert listed(data_platform, order["orderId"]) == 1
    assert eventually(lambda: queue.depth == 0), "the delivered message was not deleted"
    assert len(local_runtime.events.dead_letters) == dead_before


def test_a_message_that_keeps_failing_ends_in_the_dead_letter_queue_and_can_be_redriven(
    api: Client, data_platform: Client, local_runtime: LocalRuntime
) -> None:
    events = local_runtime.events
    queue, dead_letter_queue = events.queues["DataPlatformQueue"], events.queues["DataPlatformDeadLetterQueue"]
    assert queue.dead_letter_queue is dead_letter_queue
    assert eventually(lambda: queue.depth == 0), "an earlier delivery is still pending"
    dead_before = len(queue.dead_letters)
    data_platform.ok("POST", "/faults", {"failNext": MAX_RECEIVE_COUNT})
    try:
        order = place_order(api)

        assert eventually(lambda: dead_letter_queue.depth == 1), "the message never reached the dead-letter queue"
    finally:
        data_platform.ok("POST", "/faults", {"failNext": 0})
    (letter,) = queue.dead_letters[dead_before:]
    assert (letter.rule, letter.queue, letter.attempts) == ("DataPlatformQueue", "DataPlatformDeadLetterQueue", 5)
    assert letter.event["detail"]["dynamodb"]["NewImage"]["orderId"]["S"] == order["orderId"]
    assert "batchItemFailures" in letter.error
    assert not received(data_platform, order["orderId"])
    assert queue.depth == 0

    assert events.redrive("DataPlatformDeadLetterQueue") == 1  # aws sqs start-message-move-task

    assert eventually(lambda: received(data_platform, order["orderId"])), "the redriven order never arrived"
    assert listed(data_platform, order["orderId"]) == 1
    assert dead_letter_queue.depth == 0


def test_the_template_routes_order_completed_to_the_forwarder_through_its_queue(local_runtime: LocalRuntime) -> None:
    rules = {rule.name: rule for rule in local_runtime.events.buses["ShopEventBus"].rules}
    assert {name: rule.target_name for name, rule in rules.items()} == {
        "DataPlatformRule.DataPlatformQueue": "DataPlatformQueue",
        "SalesCounterFunction.OrderCompleted": "SalesCounterFunction",
    }
    to_queue = rules["DataPlatformRule.DataPlatformQueue"]
    assert to_queue.retry == RetryPolicy(185, 86_400)
    assert to_queue.dead_letter_queue is local_runtime.events.queues["DataPlatformRuleDeadLetterQueue"]
    assert to_queue.pattern.matches_event(sample("sales_counter.json"))  # type: ignore[arg-type]

    queue = local_runtime.events.queues["DataPlatformQueue"]
    assert queue.max_receive_count == MAX_RECEIVE_COUNT  # the runtime's override of 480
    assert queue.visibility_timeout == 180 * local_runtime.queue_time_scale


def test_deliveries_the_data_platform_refuses_for_their_credential_are_dead_lettered_then_redriven(
    api: Client, data_platform: Client, local_runtime: LocalRuntime
) -> None:
    """The data platform expects another credential (rotated on its side only): each delivery is
    refused 401, received again, and dead-lettered past maxReceiveCount; once the credentials agree
    again, the dead letter redriven reaches it: nothing lost."""
    events = local_runtime.events
    queue, dead_letter_queue = events.queues["DataPlatformQueue"], events.queues["DataPlatformDeadLetterQueue"]
    assert eventually(lambda: queue.depth == 0), "an earlier delivery is still pending"
    dead_before, refused_before = len(queue.dead_letters), data_platform.get("/orders").body["refused"]
    data_platform.ok("POST", "/credential", {"expect": f"rotated-{fresh_id('credential')}"})
    try:
        order = place_order(api)

        assert eventually(lambda: len(queue.dead_letters) == dead_before + 1), "the message was never dead-lettered"
    finally:
        data_platform.ok("DELETE", "/credential")  # the secret put right: both sides agree again
    (letter,) = queue.dead_letters[dead_before:]
    assert (letter.queue, letter.attempts) == ("DataPlatformDeadLetterQueue", MAX_RECEIVE_COUNT)
    assert letter.event["detail"]["dynamodb"]["NewImage"]["orderId"]["S"] == order["orderId"]
    assert data_platform.get("/orders").body["refused"] - refused_before == MAX_RECEIVE_COUNT  # each receive: a 401
    assert not received(data_platform, order["orderId"])
    assert dead_letter_queue.depth == 1

    assert events.redrive("DataPlatformDeadLetterQueue") == 1

    assert eventually(lambda: received(data_platform, order["orderId"])), "the redriven order never arrived"
    assert listed(data_platform, order["orderId"]) == 1
    assert dead_letter_queue.depth == 0
    assert eventually(lambda: queue.depth == 0)
