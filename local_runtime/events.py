"""The template's events, run on this machine: table stream -> pipe -> event bus -> rules -> functions.

What runs is read from `template.yaml`:
- every `AWS::Pipes::Pipe` whose source is a table's stream (`!GetAtt Table.StreamArn`) and whose
  target is an event bus (`!GetAtt Bus.Arn`): its starting position, batch size, filter criteria
  and the source / detail-type it puts on the bus;
- every `EventBridgeRule` event of a function: the bus it listens on, its pattern and its retry
  policy.

The stream is read from DynamoDB Local (its dynamodbstreams API). Patterns are matched with moto's
EventBridge matcher, for the pipe's filter as for the rules. A target that raises is tried again
with backoff, within the rule's MaximumRetryAttempts and MaximumEventAgeInSeconds; past them the
event is a dead letter (logged, and kept in `dead_letters`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import itertools
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from moto.events.models import EventPattern

from local_runtime import template
from local_runtime.functions import ACCOUNT_ID, DUMMY_CREDENTIALS, FunctionError, InProcessLambda, LocalFunction

LOG = logging.getLogger("local_runtime.events")

# EventBridge's defaults when a rule target declares no RetryPolicy.
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 86_400


def _logical_id(reference: Any) -> str | None:
    """The logical id a `!Ref X` or `!GetAtt X.Attr` points at."""
    if isinstance(reference, Mapping):
        if "Ref" in reference:
            return str(reference["Ref"])
        if "Fn::GetAtt" in reference:
            target = reference["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return None


@dataclass(frozen=True)
class RetryPolicy:
    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age_seconds: int = DEFAULT_MAXIMUM_EVENT_AGE_SECONDS


@dataclass(frozen=True)
class Backoff:
    """Local retry delays: short, growing, capped (AWS waits longer; the bounds are the template's)."""

    first_seconds: float = 0.2
    cap_seconds: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(random.uniform(0.5, 1.0) * min(self.cap_seconds, self.first_seconds * 2 ** (attempt - 1)))


@dataclass
class Rule:
    name: str  # "<Function>.<EventName>"
    bus: str
    pattern: EventPattern
    target: LocalFunction
    retry: RetryPolicy


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    rule: Rule = field(compare=False)
    event: dict[str, Any] = field(compare=False)
    attempt: int = field(compare=False, default=1)
    first_try: float = field(compare=False, default=0.0)


@dataclass
class DeadLetter:
    rule: str
    event: dict[str, Any]
    attempts: int
    error: str


class EventBus:
    """An event bus with the template's rules on it, delivering asynchronously to their targets."""

    def __init__(self, name: str, rules: Iterable[Rule], *, backoff: Backoff = Backoff(), workers: int = 4) -> None:
        self.name = name
        self.rules = [rule for rule in rules if rule.bus == name]
        self.backoff = backoff
        self.dead_letters: list[DeadLetter] = []
        self.delivered = 0
        self.failed_attempts = 0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"bus-{name}")
        self._queue: list[_Delivery] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._in_flight = 0
        self._stopped = False
        self._scheduler = threading.Thread(target=self._schedule, daemon=True, name=f"bus-{name}-scheduler")
        self._scheduler.start()

    def put_events(self, events: Iterable[dict[str, Any]]) -> None:
        """Deliver each event to the target of every rule whose pattern matches it."""
        for event in events:
            for rule in self.rules:
                if rule.pattern.matches_event(event):  # type: ignore[arg-type]
                    self._enqueue(_Delivery(time.monotonic(), next(self._seq), rule, event, 1, time.monotonic()))

    def _enqueue(self, delivery: _Delivery) -> None:
        with self._wake:
            heapq.heappush(self._queue, delivery)
            self._in_flight += 1
            self._wake.notify()

    def _schedule(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._queue or self._queue[0].due > time.monotonic()):
                    timeout = self._queue[0].due - time.monotonic() if self._queue else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                delivery = heapq.heappop(self._queue)
            try:
                self._pool.submit(self._deliver, delivery)
            except RuntimeError:  # pool shut down
                return

    def _deliver(self, delivery: _Delivery) -> None:
        rule = delivery.rule
        try:
            rule.target(delivery.event)
        except FunctionError as error:
            self.failed_attempts += 1
            age = time.monotonic() - delivery.first_try
            if delivery.attempt > rule.retry.maximum_retry_attempts or age >= rule.retry.maximum_event_age_seconds:
                self._dead_letter(delivery, str(error))
            else:
                delay = self.backoff.delay(delivery.attempt)
                LOG.warning(
                    "%s failed on event %s (attempt %d), retrying in %.1fs: %s",
                    rule.name,
                    delivery.event.get("id"),
                    delivery.attempt,
                    delay,
                    error,
                )
                retry = _Delivery(time.monotonic() + delay, next(self._seq), rule, delivery.event)
                retry.attempt, retry.first_try = delivery.attempt + 1, delivery.first_try
                self._enqueue(retry)
        except Exception as error:  # a bug of this runtime: never lose the event silently
            LOG.exception("delivering to %s failed", rule.name)
            self._dead_letter(delivery, repr(error))
        else:
            self.delivered += 1
        finally:
            with self._wake:
                self._in_flight -= 1
                self._wake.notify_all()

    def _dead_letter(self, delivery: _Delivery, error: str) -> None:
        letter = DeadLetter(delivery.rule.name, delivery.event, delivery.attempt, error)
        self.dead_letters.append(letter)
        LOG.error(
            "DEAD LETTER: %s gave up on event %s after %d attempts: %s\n%s",
            delivery.rule.name,
            delivery.event.get("id"),
            delivery.attempt,
            error,
            json.dumps(delivery.event),
        )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no delivery is pending (tests)."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(left)
        return True

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        self._scheduler.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class PipeDefinition:
    name: str
    table: str
    bus: str
    starting_position: str
    batch_size: int
    filters: list[EventPattern]
    source: str
    detail_type: str


def pipe_definitions(doc: Mapping[str, Any] | None = None) -> list[PipeDefinition]:
    """Every pipe of the template from a table's stream to an event bus."""
    doc = doc or template.load()
    resources = doc["Resources"]
    pipes = []
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Pipes::Pipe":
            continue
        props = resource["Properties"]
        table, bus = _logical_id(props.get("Source")), _logical_id(props.get("Target"))
        if resources.get(table, {}).get("Type") != "AWS::DynamoDB::Table":
            LOG.warning("pipe %s: source is not a table stream; not run locally", name)
            continue
        if resources.get(bus, {}).get("Type") != "AWS::Events::EventBus":
            LOG.warning("pipe %s: target is not an event bus; not run locally", name)
            continue
        source = props.get("SourceParameters", {})
        stream = source.get("DynamoDBStreamParameters", {})
        target = props.get("TargetParameters", {}).get("EventBridgeEventBusParameters", {})
        pipes.append(
            PipeDefinition(
                name=name,
                table=str(table),
                bus=str(bus),
                starting_position=stream.get("StartingPosition", "LATEST"),
                batch_size=int(stream.get("BatchSize", 100)),
                filters=[EventPattern.load(f["Pattern"]) for f in source.get("FilterCriteria", {}).get("Filters", [])],
                source=target.get("Source", f"Pipe {name}"),
                detail_type=target.get("DetailType", "Event from aws:dynamodb"),
            )
        )
    return pipes


def rules(functions: InProcessLambda, doc: Mapping[str, Any] | None = None) -> list[Rule]:
    """Every EventBridgeRule event of the template's functions, with its function as target."""
    doc = doc or template.load()
    found = []
    for name, resource in doc["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event.get("Type") != "EventBridgeRule":
                continue
            props = event["Properties"]
            bus = _logical_id(props.get("EventBusName")) or str(props.get("EventBusName", "default"))
            policy = props.get("RetryPolicy", {})
            found.append(
                Rule(
                    name=f"{name}.{event_name}",
                    bus=bus,
                    pattern=EventPattern.load(json.dumps(props.get("Pattern", {}))),
                    target=functions[name],
                    retry=RetryPolicy(
                        int(policy.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS)),
                        int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE_SECONDS)),
                    ),
                )
            )
    return found


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
        region: str = "us-east-1",
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
        tmp = self.checkpoint_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.checkpoint_file)

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
            filters = self.definition.filters
            if filters and not any(f.matches_event(record) for f in filters):  # type: ignore[arg-type]
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


class EventRuntime:
    """The template's pipes, buses and rules, running against DynamoDB Local."""

    def __init__(
        self,
        functions: InProcessLambda,
        endpoint_url: str,
        *,
        region: str = "us-east-1",
        backoff: Backoff = Backoff(),
        data_dir: Path | None = None,
        poll_seconds: float = 0.1,
    ) -> None:
        doc = template.load()
        all_rules = rules(functions, doc)
        bus_names = {name for name, res in doc["Resources"].items() if res.get("Type") == "AWS::Events::EventBus"}
        self.buses = {name: EventBus(name, all_rules, backoff=backoff) for name in sorted(bus_names)}
        self.pipes = [
            StreamPipe(
                definition,
                self.buses[definition.bus],
                endpoint_url,
                region=region,
                poll_seconds=poll_seconds,
                checkpoint_file=(data_dir / f"pipe-{definition.name}.json") if data_dir else None,
            )
            for definition in pipe_definitions(doc)
        ]

    def start(self) -> EventRuntime:
        for pipe in self.pipes:
            pipe.start()
        return self

    def stop(self) -> None:
        for pipe in self.pipes:
            pipe.stop()
        for bus in self.buses.values():
            bus.stop()

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return [letter for bus in self.buses.values() for letter in bus.dead_letters]

    def describe(self) -> list[str]:
        """One line per route of events, for the start-up banner."""
        lines = []
        for pipe in self.pipes:
            d = pipe.definition
            lines.append(f"{d.table} stream -> {d.name} -> {d.bus} ({d.source} / {d.detail_type})")
        for bus in self.buses.values():
            for rule in bus.rules:
                lines.append(
                    f"{bus.name}: {rule.name} (retries <= {rule.retry.maximum_retry_attempts}, "
                    f"age <= {rule.retry.maximum_event_age_seconds}s)"
                )
        return lines
