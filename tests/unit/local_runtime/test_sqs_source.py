"""The SQS event source alone (`local_runtime.sqs_source`): what a batch's answer deletes, and what
it leaves in the queue to be received again or dead-lettered."""

from __future__ import annotations

from typing import Any

from local_runtime.functions import FunctionError
from local_runtime.queues import LocalQueue
from local_runtime.sqs_source import SqsEventSource
from local_runtime.template import QueueDefinition, SqsEventSourceDefinition


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
