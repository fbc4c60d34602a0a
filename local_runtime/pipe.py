"""An EventBridge Pipe from a table's stream to an event bus: polls the stream on DynamoDB Local
(its dynamodbstreams API), keeps the records that match the pipe's filter criteria (moto's
EventBridge matcher) and puts each one on the bus, as the event the pipe's target parameters
describe (source, detail-type, the record as detail).

With a `checkpoint_file` (`make run PERSIST=1`), the last sequence number read of each shard is
written after each batch and read back at start, so a record is not put on the bus twice across
runs of the same data. As a pipe moves its stream position only once its target took the batch,
the checkpoint is written only after `put_events` returned, which is once the bus has accepted the
events durably (its journal): a stop between the two puts the batch on the bus again, at least
once, and never loses it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from moto.events.models import EventPattern

from local_runtime.aws_env import ACCOUNT_ID, DUMMY_CREDENTIALS, REGION
from local_runtime.bus import EventBus
from local_runtime.state_files import write_atomically
from local_runtime.template import PipeDefinition

LOG = logging.getLogger("local_runtime.pipe")


def _plain_record(record: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A stream record as Lambda and Pipes hand it on (JSON: times as epoch seconds)."""
    out = dict(record)
    change = dict(out.get("dynamodb", {}))
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, dt.datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    out["dynamodb"] = change
    out["awsRegion"] = region
    out["eventSourceARN"] = stream_arn
    return out


class StreamPipe:
    """One pipe: polls its table's stream on DynamoDB Local, filters, puts each record on the bus."""

    def __init__(
        self,
        definition: PipeDefinition,
        bus: EventBus,
        endpoint_url: str,
        *,
        region: str = REGION,
        poll_seconds: float = 0.1,
        checkpoint_file: Path | None = None,
    ) -> None:
        self.definition = definition
        self.bus = bus
        self.region = region
        self.poll_seconds = poll_seconds
        self.checkpoint_file = checkpoint_file
        self.records_read = 0
        self.events_put = 0
        self._filters = [EventPattern.load(pattern) for pattern in definition.filters]
        config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=5)
        key, secret = DUMMY_CREDENTIALS["key"], DUMMY_CREDENTIALS["secret"]
        self._dynamodb: Any = boto3.client(
            "dynamodb",
            endpoint_url=endpoint_url,
            region_name=region,
            config=config,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )
        self._streams: Any = boto3.client(
            "dynamodbstreams",
            endpoint_url=endpoint_url,
            region_name=region,
            config=config,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"pipe-{definition.name}")
        self._stream_arn: str | None = None
        self._shards: dict[str, dict[str, Any]] = {}  # shardId -> {"parent", "iterator", "last", "done"}
        self._checkpoints: dict[str, Any] = self._read_checkpoints()
        self._saved_shards: dict[str, Any] = {}

    def start(self) -> StreamPipe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    # ---- checkpoints (only when data is kept between runs)
    def _read_checkpoints(self) -> dict[str, Any]:
        if self.checkpoint_file and self.checkpoint_file.exists():
            with contextlib.suppress(ValueError, OSError):
                return dict(json.loads(self.checkpoint_file.read_text()))
        return {}

    def _save_checkpoints(self) -> None:
        if not self.checkpoint_file:
            return
        state = {
            "streamArn": self._stream_arn,
            "shards": {sid: {"last": s["last"], "done": s["done"]} for sid, s in self._shards.items()},
        }
        write_atomically(self.checkpoint_file, json.dumps(state))

    # ---- polling
    def _run(self) -> None:
        last_discovery = 0.0
        while not self._stop.is_set():
            try:
                if self._stream_arn is None or time.monotonic() - last_discovery > 2.0:
                    self._discover()
                    last_discovery = time.monotonic()
                got = self._poll_once()
            except (ClientError, BotoCoreError) as error:
                if self._stop.is_set():
                    return
                LOG.debug("pipe %s: %s; trying again", self.definition.name, error)
                self._stream_arn = None if "ResourceNotFound" in str(error) else self._stream_arn
                self._stop.wait(1.0)
                continue
            if not got:
                self._stop.wait(self.poll_seconds)

    def _discover(self) -> None:
        table = self._dynamodb.describe_table(TableName=self.definition.table)["Table"]
        arn = table.get("LatestStreamArn")
        if not arn:
            raise ClientError({"Error": {"Code": "ResourceNotFound", "Message": "no stream"}}, "DescribeTable")
        if arn != self._stream_arn:
            saved = self._checkpoints if self._checkpoints.get("streamArn") == arn else {}
            self._stream_arn, self._shards = arn, {}
            self._saved_shards = saved.get("shards", {})
        kwargs: dict[str, Any] = {"StreamArn": arn}
        while True:
            description = self._streams.describe_stream(**kwargs)["StreamDescription"]
            for shard in description.get("Shards", []):
                shard_id = shard["ShardId"]
                if shard_id not in self._shards:
                    saved_shard = self._saved_shards.get(shard_id, {})
                    self._shards[shard_id] = {
                        "parent": shard.get("ParentShardId"),
                        "iterator": None,
                        "last": saved_shard.get("last"),
                        "done": bool(saved_shard.get("done")),
                    }
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            kwargs["ExclusiveStartShardId"] = last

    def _ready(self, shard: Mapping[str, Any]) -> bool:
        parent = self._shards.get(shard["parent"]) if shard["parent"] else None
        return not shard["done"] and (parent is None or parent["done"])

    def _iterator(self, shard_id: str, shard: dict[str, Any]) -> str:
        assert self._stream_arn
        if shard["last"]:
            kind: dict[str, Any] = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard["last"]}
        else:
            kind = {"ShardIteratorType": self.definition.starting_position}
        return str(
            self._streams.get_shard_iterator(StreamArn=self._stream_arn, ShardId=shard_id, **kind)["ShardIterator"]
        )

    def _poll_once(self) -> bool:
        """Read one batch from every readable shard; True if any record came."""
        got = False
        for shard_id, shard in list(self._shards.items()):
            if not self._ready(shard):
                continue
            if shard["iterator"] is None:
                shard["iterator"] = self._iterator(shard_id, shard)
            try:
                answer = self._streams.get_records(ShardIterator=shard["iterator"], Limit=self.definition.batch_size)
            except ClientError as error:
                if "ExpiredIterator" in str(error) or "TrimmedDataAccess" in str(error):
                    shard["iterator"] = None
                    continue
                raise
            records = answer.get("Records", [])
            if records:
                got = True
                self._forward(records)
                shard["last"] = records[-1]["dynamodb"]["SequenceNumber"]
            shard["iterator"] = answer.get("NextShardIterator")
            if shard["iterator"] is None:
                shard["done"] = True
            if records or shard["done"]:
                self._save_checkpoints()
        return got

    def _forward(self, records: list[dict[str, Any]]) -> None:
        assert self._stream_arn
        events = []
        for raw in records:
            self.records_read += 1
            record = _plain_record(raw, self._stream_arn, self.region)
            if self._filters and not any(f.matches_event(record) for f in self._filters):  # type: ignore[arg-type]
                continue
            events.append(
                {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": self.definition.detail_type,
                    "source": self.definition.source,
                    "account": ACCOUNT_ID,
                    "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "region": self.region,
                    "resources": [],
                    "detail": record,
                }
            )
        self.events_put += len(events)
        if events:
            self.bus.put_events(events)
