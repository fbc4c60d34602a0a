"""Events through the local runtime: an order placed over HTTP goes down the order table's stream,
through the pipe onto the bus, and the rules deliver it to the data platform queue (read by the
forwarder) and to the sales counter; a failed delivery is received again from the queue until it
succeeds or, past maxReceiveCount, goes to the dead-letter queue."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from moto.events.models import EventPattern

from local_runtime.events import (
    Backoff,
    EventBus,
    LocalQueue,
    QueueDefinition,
    RetryPolicy,
    Rule,
    SqsEventSource,
    SqsEventSourceDefinition,
    pipe_definitions,
    queue_definitions,
    sqs_event_sources,
)
from local_runtime.functions import FunctionError
from local_runtime.run import LocalRuntime
from tests.e2e.conftest import Client, fresh_id
from tests.support.lambda_events import sample
from tests.support.runtime import MAX_RECEIVE_COUNT

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

    queues = {q.name: q for q in queue_definitions()}
    assert queues["DataPlatformQueue"] == QueueDefinition("DataPlatformQueue", 180, "DataPlatformDeadLetterQueue", 480)
    assert queues["DataPlatformDeadLetterQueue"].dead_letter_queue is None
    (source,) = sqs_event_sources()
    assert source == SqsEventSourceDefinition(
        "DataPlatformForwarderFunction.OrderCompleted",
        "DataPlatformForwarderFunction",
        "DataPlatformQueue",
        batch_size=5,
        batching_window_seconds=1.0,
        report_batch_item_failures=True,
    )
    queue = local_runtime.events.queues["DataPlatformQueue"]
    assert queue.max_receive_count == MAX_RECEIVE_COUNT  # the runtime's override of 480
    assert queue.visibility_timeout == 180 * local_runtime.queue_time_scale


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


# ---------------------------------------------------------------- the queue and its event source alone


def queue_and_source(
    function: Any, *, report_batch_item_failures: bool = True, batch_size: int = 10, max_receive_count: int = 3
) -> tuple[LocalQueue, LocalQueue, SqsEventSource]:
    """A queue with a dead-letter queue, read by `function` (nothing polls: tests call `process`)."""
    scale = 0.01  # 20 s of visibility timeout: 0.2 s
    dead = LocalQueue(QueueDefinition("Dead", 20, None, None), time_scale=scale)
    queue = LocalQueue(QueueDefinition("Work", 20, "Dead", max_receive_count), time_scale=scale)
    queue.dead_letter_queue = dead
    definition = SqsEventSourceDefinition("Fn.Work", "Fn", "Work", batch_size, 0.0, report_batch_item_failures)
    return queue, dead, SqsEventSource(definition, queue, function, time_scale=scale)


def receive_all(queue: LocalQueue) -> list[dict[str, Any]]:
    """Every visible message (waiting up to 2 s for the first)."""
    return queue.receive(10, wait_seconds=2)


def test_only_the_reported_failures_are_received_again() -> None:
    seen: list[list[str]] = []

    def function(event: dict[str, Any]) -> dict[str, Any]:
        bodies = [record["body"] for record in event["Records"]]
        seen.append(bodies)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "b"]}

    queue, dead, source = queue_and_source(function, max_receive_count=2)
    for body in ("a", "b", "c"):
        queue.send(body)

    source.process(receive_all(queue))
    assert [m.body for m in queue.messages()] == ["b"]
    assert queue.receive(10, wait_seconds=0) == []  # invisible until its visibility timeout passes
    (again,) = receive_all(queue)
    assert (again["body"], again["attributes"]["ApproximateReceiveCount"]) == ("b", "2")
    source.process([again])
    assert queue.receive(10, wait_seconds=0.5) == []  # received maxReceiveCount times: redriven instead

    assert seen == [["a", "b", "c"], ["b"]]
    assert [m.body for m in dead.messages()] == ["b"] and queue.depth == 0
    (letter,) = queue.dead_letters
    assert (letter.attempts, letter.queue) == (2, "Dead")
    assert (source.invocations, source.succeeded_records, source.failed_records) == (2, 2, 2)


def test_a_function_that_raises_fails_its_whole_batch() -> None:
    calls = 0

    def function(event: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise FunctionError("Fn", RuntimeError("down"))

    queue, _, source = queue_and_source(function)
    queue.send("a")
    queue.send("b")

    assert source.process(receive_all(queue)) == {m.message_id for m in queue.messages()}
    assert queue.depth == 2
    batch = receive_all(queue)
    assert sorted(r["body"] for r in batch) == ["a", "b"]
    assert source.process(batch) == set()
    assert queue.depth == 0


def test_an_answer_lambda_cannot_read_fails_the_whole_batch() -> None:
    queue, _, source = queue_and_source(lambda event: {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]})
    queue.send("a")
    queue.send("b")
    assert len(source.process(receive_all(queue))) == 2

    ignored, _, plain = queue_and_source(
        lambda event: {"batchItemFailures": "whatever"}, report_batch_item_failures=False
    )
    ignored.send("a")
    assert plain.process(receive_all(ignored)) == set()  # without ReportBatchItemFailures the answer is ignored
    assert ignored.depth == 0


def test_a_batch_waits_for_the_batching_window_and_stops_at_the_batch_size() -> None:
    queue, _, _ = queue_and_source(lambda event: None, batch_size=2)
    queue.send("a")
    started = time.monotonic()
    assert len(queue.receive(2, wait_seconds=1, batching_window=0.2)) == 1
    assert time.monotonic() - started >= 0.15  # waited for a second message that never came
    for body in ("b", "c", "d"):
        queue.send(body)
    started = time.monotonic()
    assert len(queue.receive(2, wait_seconds=1, batching_window=5)) == 2  # full: no wait
    assert time.monotonic() - started < 1
