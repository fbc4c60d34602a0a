"""The event bus and its rules alone (`local_runtime.bus`): matching, delivery to a function or a
queue, retries within the rule's policy, dead letters."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from moto.events.models import EventPattern

from local_runtime.bus import Backoff, EventBus, QueueTarget, Rule, rules
from local_runtime.functions import FunctionError
from local_runtime.queues import LocalQueue
from local_runtime.state_files import JsonLines
from local_runtime.template import QueueDefinition, RetryPolicy, RuleDefinition
from tests.support import polling
from tests.support.lambda_events import sample

ORDERS = '{"source": ["shop.orders"]}'


def bus_of(*rule_list: Rule) -> EventBus:
    return EventBus("Bus", rule_list, backoff=Backoff(0.01, 0.02))


def test_a_target_that_keeps_failing_ends_as_a_dead_letter() -> None:
    calls: list[dict[str, Any]] = []

    def target(event: dict[str, Any]) -> None:
        calls.append(event)
        raise FunctionError("Broken", RuntimeError("down"))

    rule = Rule(
        name="Broken.OrderCompleted",
        bus="Bus",
        pattern=EventPattern.load(ORDERS),
        target=target,
        retry=RetryPolicy(maximum_retry_attempts=2, maximum_event_age_seconds=60),
    )
    bus = bus_of(rule)
    try:
        event = sample("sales_counter.json")
        bus.put_events([event, {**event, "source": "someone.else"}])
        assert bus.wait_idle(5)
    finally:
        bus.stop()

    assert len(calls) == 3  # the first try and MaximumRetryAttempts retries; the other source never matched
    assert [(letter.rule, letter.attempts) for letter in bus.dead_letters] == [("Broken.OrderCompleted", 3)]


def test_a_target_that_fails_once_is_tried_again_and_delivered() -> None:
    calls: list[str] = []

    def target(event: dict[str, Any]) -> None:
        calls.append(event["id"])
        if len(calls) == 1:
            raise FunctionError("Flaky", RuntimeError("down once"))

    bus = bus_of(Rule("Flaky.Orders", "Bus", EventPattern.load(ORDERS), target, RetryPolicy(3, 60)))
    try:
        bus.put_events([sample("sales_counter.json")])
        assert bus.wait_idle(5)
    finally:
        bus.stop()

    event_id = sample("sales_counter.json")["id"]
    assert calls == [event_id, event_id]
    assert (bus.delivered, bus.failed_attempts, bus.dead_letters) == (1, 1, [])


def test_rules_deliver_to_a_queue_as_json_and_dead_letter_to_the_rules_queue() -> None:
    queue = LocalQueue(QueueDefinition("Work", 30, None, None))
    dead = LocalQueue(QueueDefinition("RuleDead", 30, None, None))
    definitions = [
        RuleDefinition("ToQueue.Work", "Bus", ORDERS, "Work", "queue", RetryPolicy(0, 60), "RuleDead"),
        RuleDefinition("Counter.Orders", "Bus", ORDERS, "Counter", "function"),
        RuleDefinition("Elsewhere.Orders", "Bus", ORDERS, "NotRunHere", "function"),
    ]
    seen: list[dict[str, Any]] = []
    bound = rules(definitions, {"Counter": seen.append}, {"Work": queue, "RuleDead": dead})

    assert [rule.name for rule in bound] == ["ToQueue.Work", "Counter.Orders"]  # no target, no rule
    assert isinstance(bound[0].target, QueueTarget) and bound[0].dead_letter_queue is dead
    bus = bus_of(*bound)
    try:
        event = sample("sales_counter.json")
        bus.put_events([event])
        assert bus.wait_idle(5)
    finally:
        bus.stop()
    assert seen == [event]
    (message,) = queue.messages()
    assert json.loads(message.body) == event


def test_a_queue_target_that_fails_puts_the_event_on_the_rules_dead_letter_queue() -> None:
    dead = LocalQueue(QueueDefinition("RuleDead", 30, None, None))

    def refuses(event: dict[str, Any]) -> None:
        raise FunctionError("Queue", RuntimeError("AccessDenied"))

    bus = bus_of(Rule("R.T", "Bus", EventPattern.load(ORDERS), refuses, RetryPolicy(1, 60), "T", dead))
    try:
        bus.put_events([sample("sales_counter.json")])
        assert bus.wait_idle(5)
    finally:
        bus.stop()
    (letter,) = bus.dead_letters
    assert (letter.attempts, letter.queue) == (2, "RuleDead")
    assert [json.loads(m.body)["id"] for m in dead.messages()] == [sample("sales_counter.json")["id"]]


def test_a_rule_of_another_bus_is_not_on_this_one() -> None:
    rule = Rule("Other.Orders", "OtherBus", EventPattern.load(ORDERS), lambda event: None, RetryPolicy())
    bus = bus_of(rule)
    bus.stop()
    assert bus.rules == []


# ---------------------------------------------------------------- the journal (make run PERSIST=1)


def owed(journal: Path) -> list[str]:
    """The event ids the journal file holds as accepted and not done, read as a restart would."""
    pending: dict[str, str] = {}
    for record in JsonLines(journal).read():
        if "accepted" in record:
            pending[record["accepted"]] = record["event"]["id"]
        else:
            pending.pop(record["done"], None)
    return sorted(pending.values())


def orders_rule(target: Any, retry: RetryPolicy | None = None) -> Rule:
    return Rule("Counter.Orders", "Bus", EventPattern.load(ORDERS), target, retry or RetryPolicy(3, 60))


def test_put_events_returns_once_every_delivery_is_in_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "Bus.jsonl"
    release = threading.Event()
    bus = EventBus("Bus", [orders_rule(lambda event: release.wait(10))], journal=journal)
    try:
        event = sample("sales_counter.json")
        bus.put_events([event, {**event, "id": "second"}, {**event, "id": "elsewhere", "source": "someone.else"}])
        assert owed(journal) == sorted([event["id"], "second"])  # before any target returned
        release.set()
        assert bus.wait_idle(5)
        assert owed(journal) == []  # delivered: done
    finally:
        release.set()
        bus.stop()


def test_what_a_bus_accepted_is_delivered_by_the_next_bus_on_its_journal(tmp_path: Path) -> None:
    """The first bus never finishes (as if killed): its target never answers. A bus made again
    on the same journal delivers every accepted event."""
    journal = tmp_path / "Bus.jsonl"
    hang = threading.Event()
    first = EventBus("Bus", [orders_rule(lambda event: hang.wait(30))], journal=journal, workers=1)
    event = sample("sales_counter.json")
    first.put_events([{**event, "id": f"e{n}"} for n in range(5)])

    delivered: list[str] = []
    second = EventBus("Bus", [orders_rule(lambda event: delivered.append(event["id"]))], journal=journal)
    try:
        assert second.wait_idle(5)
        assert sorted(delivered) == [f"e{n}" for n in range(5)]
        assert owed(journal) == []
    finally:
        hang.set()
        second.stop()
        first.stop()


def test_a_stopped_bus_leaves_its_pending_retries_in_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "Bus.jsonl"

    def down(event: dict[str, Any]) -> None:
        raise FunctionError("Counter", RuntimeError("down"))

    first = EventBus("Bus", [orders_rule(down)], backoff=Backoff(60, 60), journal=journal)
    first.put_events([sample("sales_counter.json")])
    assert polling.eventually(lambda: first.failed_attempts == 1, 5)
    first.stop()  # the retry, a minute away, is not lost
    assert owed(journal) == [sample("sales_counter.json")["id"]]

    delivered: list[str] = []
    second = EventBus("Bus", [orders_rule(lambda event: delivered.append(event["id"]))], journal=journal)
    try:
        assert second.wait_idle(5)
    finally:
        second.stop()
    assert delivered == [sample("sales_counter.json")["id"]]


def test_a_dead_letter_leaves_the_journal_and_the_journal_is_compacted(tmp_path: Path) -> None:
    journal = tmp_path / "Bus.jsonl"

    def down(event: dict[str, Any]) -> None:
        raise FunctionError("Counter", RuntimeError("down"))

    bus = EventBus("Bus", [orders_rule(down, RetryPolicy(0, 60))], journal=journal)
    try:
        event = sample("sales_counter.json")
        bus.put_events([{**event, "id": f"e{n}"} for n in range(3)])
        assert bus.wait_idle(5)
    finally:
        bus.stop()
    assert len(bus.dead_letters) == 3
    assert owed(journal) == []
    assert len(journal.read_text().splitlines()) == 6  # three accepted, three done
    EventBus("Bus", [], journal=journal).stop()
    assert journal.read_text() == ""  # a new bus compacts what was finished
