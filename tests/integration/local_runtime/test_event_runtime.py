"""The template's events wired together (`local_runtime.events`), with stand-in functions: an event
on the bus reaches the sales counter and, through the data platform queue, the forwarder; with a
queue folder, a message waiting in the queue outlasts a stop of the runtime."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from local_runtime.events import Backoff, EventRuntime
from local_runtime.functions import FunctionError
from tests.support.lambda_events import sample
from tests.support.polling import eventually

SCALE = 0.002  # 180 s of visibility timeout: 0.36 s


class Forwarder:
    """Stands in for DataPlatformForwarderFunction: keeps each batch; fails them while `failing`."""

    def __init__(self, *, failing: bool) -> None:
        self.failing = failing
        self.batches: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.batches.append(event["Records"])
        if self.failing:
            raise FunctionError("DataPlatformForwarderFunction", RuntimeError("the data platform is down"))
        return {"batchItemFailures": []}


def runtime(endpoint: str, forwarder: Forwarder, counted: list[Any], queue_dir: Path | None) -> EventRuntime:
    functions = {"DataPlatformForwarderFunction": forwarder, "SalesCounterFunction": counted.append}
    return EventRuntime(
        functions, endpoint, backoff=Backoff(0.01, 0.05), queue_dir=queue_dir, queue_time_scale=SCALE
    ).start()


def test_an_event_on_the_bus_reaches_the_sales_counter_and_the_forwarder(dynamodb_local_endpoint: str) -> None:
    forwarder, counted = Forwarder(failing=False), []
    events = runtime(dynamodb_local_endpoint, forwarder, counted, None)
    event = sample("sales_counter.json")
    try:
        events.buses["ShopEventBus"].put_events([event])
        assert eventually(lambda: bool(forwarder.batches) and bool(counted))
        assert eventually(lambda: events.queues["DataPlatformQueue"].depth == 0)
    finally:
        events.stop()
    assert counted == [event]
    ((record,),) = forwarder.batches
    assert json.loads(record["body"]) == event
    assert record["eventSourceARN"].endswith(":DataPlatformQueue")


def test_a_message_waiting_in_a_queue_outlasts_a_stop(dynamodb_local_endpoint: str, tmp_path: Path) -> None:
    down, counted = Forwarder(failing=True), []
    event = sample("sales_counter.json")
    first = runtime(dynamodb_local_endpoint, down, counted, tmp_path)
    try:
        first.buses["ShopEventBus"].put_events([event])
        assert eventually(lambda: len(down.batches) >= 2), "the forwarder was not tried twice"
    finally:
        first.stop()
    assert first.queues["DataPlatformQueue"].depth == 1
    assert (tmp_path / "DataPlatformQueue.json").is_file()

    up = Forwarder(failing=False)
    second = runtime(dynamodb_local_endpoint, up, [], tmp_path)
    try:
        assert second.queues["DataPlatformQueue"].depth == 1  # restored before anything was put on the bus
        assert eventually(lambda: bool(up.batches)), "the restored message was not delivered"
        assert eventually(lambda: second.queues["DataPlatformQueue"].depth == 0)
    finally:
        second.stop()
    ((record,),) = up.batches
    assert json.loads(record["body"]) == event
    assert int(record["attributes"]["ApproximateReceiveCount"]) == len(down.batches) + 1
    assert json.loads((tmp_path / "DataPlatformQueue.json").read_text())["messages"] == []
    assert counted == [event]  # the first runtime's rule delivered it once; the second put nothing on the bus


def test_without_a_queue_folder_nothing_outlasts_a_stop(dynamodb_local_endpoint: str, tmp_path: Path) -> None:
    down = Forwarder(failing=True)
    first = runtime(dynamodb_local_endpoint, down, [], None)
    try:
        first.buses["ShopEventBus"].put_events([sample("sales_counter.json")])
        assert eventually(lambda: bool(down.batches))
    finally:
        first.stop()
    second = runtime(dynamodb_local_endpoint, Forwarder(failing=False), [], None)
    second.stop()
    assert second.queues["DataPlatformQueue"].depth == 0
