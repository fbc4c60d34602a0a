"""The stream pipe alone (`local_runtime.pipe`) on DynamoDB Local: what it puts on the bus, what its
filter keeps out, and its checkpoints across a restart."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_runtime.pipe import StreamPipe
from local_runtime.template import PipeDefinition
from tests.support.polling import eventually

INSERTS = json.dumps({"eventName": ["INSERT"]})


class RecordingBus:
    """Stands in for the event bus: keeps what the pipe puts on it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def put_events(self, events: list[dict[str, Any]]) -> None:
        self.events.extend(events)


@pytest.fixture
def table(dynamodb_local_endpoint: str) -> tuple[Any, str]:
    """A table of its own with a stream of new images; (client, name)."""
    client = boto3.client("dynamodb", endpoint_url=dynamodb_local_endpoint)
    name = f"PipeTest{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return client, name


def pipe_for(table_name: str, endpoint: str, bus: RecordingBus, checkpoint: Path | None) -> StreamPipe:
    definition = PipeDefinition("TestPipe", table_name, "Bus", "TRIM_HORIZON", 10, (INSERTS,), "test.pipe", "Changed")
    return StreamPipe(definition, bus, endpoint, poll_seconds=0.05, checkpoint_file=checkpoint)  # type: ignore[arg-type]


def ids(bus: RecordingBus) -> list[str]:
    return [event["detail"]["dynamodb"]["Keys"]["id"]["S"] for event in bus.events]


def test_inserts_go_on_the_bus_as_the_pipe_describes_them(table: tuple[Any, str], dynamodb_local_endpoint: str) -> None:
    client, name = table
    bus = RecordingBus()
    pipe = pipe_for(name, dynamodb_local_endpoint, bus, None).start()
    try:
        client.put_item(TableName=name, Item={"id": {"S": "a"}, "n": {"N": "1"}})
        client.update_item(
            TableName=name,
            Key={"id": {"S": "a"}},
            UpdateExpression="SET n = :two",
            ExpressionAttributeValues={":two": {"N": "2"}},
        )
        client.put_item(TableName=name, Item={"id": {"S": "b"}, "n": {"N": "1"}})
        assert eventually(lambda: len(bus.events) >= 2), f"events put on the bus: {bus.events}"
        time.sleep(0.3)  # a MODIFY that got through would be on the bus by now
    finally:
        pipe.stop()

    assert ids(bus) == ["a", "b"]  # the update (MODIFY) is filtered out
    assert pipe.records_read == 3 and pipe.events_put == 2
    event = bus.events[0]
    assert (event["source"], event["detail-type"]) == ("test.pipe", "Changed")
    assert event["detail"]["eventName"] == "INSERT"
    assert event["detail"]["dynamodb"]["NewImage"] == {"id": {"S": "a"}, "n": {"N": "1"}}
    assert event["detail"]["eventSourceARN"].startswith("arn:aws:dynamodb:")
    assert isinstance(event["detail"]["dynamodb"]["ApproximateCreationDateTime"], int)


def test_a_pipe_with_a_checkpoint_goes_on_where_it_stopped(
    table: tuple[Any, str], dynamodb_local_endpoint: str, tmp_path: Path
) -> None:
    client, name = table
    checkpoint = tmp_path / "pipe-TestPipe.json"
    first = RecordingBus()
    pipe = pipe_for(name, dynamodb_local_endpoint, first, checkpoint).start()
    try:
        client.put_item(TableName=name, Item={"id": {"S": "before"}})
        assert eventually(lambda: len(first.events) == 1)
    finally:
        pipe.stop()
    assert checkpoint.is_file()

    client.put_item(TableName=name, Item={"id": {"S": "while stopped"}})
    second, fresh = RecordingBus(), RecordingBus()
    again = pipe_for(name, dynamodb_local_endpoint, second, checkpoint).start()
    from_the_start = pipe_for(name, dynamodb_local_endpoint, fresh, None).start()
    try:
        client.put_item(TableName=name, Item={"id": {"S": "after"}})
        assert eventually(lambda: len(second.events) >= 2 and len(fresh.events) >= 3)
        time.sleep(0.3)
    finally:
        again.stop()
        from_the_start.stop()

    assert ids(second) == ["while stopped", "after"]  # nothing put twice
    assert ids(fresh) == ["before", "while stopped", "after"]  # TRIM_HORIZON without a checkpoint
