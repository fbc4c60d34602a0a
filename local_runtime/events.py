"""The template's events, run on this machine: table stream -> pipe -> event bus -> rules -> targets
(functions, or SQS queues read by functions through their SQS event sources).

What runs is read from `template.yaml`:
- every `AWS::Pipes::Pipe` whose source is a table's stream (`!GetAtt Table.StreamArn`) and whose
  target is an event bus (`!GetAtt Bus.Arn`): its starting position, batch size, filter criteria
  and the source / detail-type it puts on the bus;
- every `EventBridgeRule` event of a function: the bus it listens on, its pattern and its retry
  policy;
- every `AWS::Events::Rule` resource: its bus, pattern and targets (`!GetAtt Queue.Arn` or
  `!GetAtt Function.Arn`), each target with its retry policy and dead-letter queue;
- every `AWS::SQS::Queue`: its VisibilityTimeout and RedrivePolicy (dead-letter queue,
  maxReceiveCount);
- every `SQS` event of a function: its queue, BatchSize, MaximumBatchingWindowInSeconds and
  whether it reports batch item failures.

The stream is read from DynamoDB Local (its dynamodbstreams API). Patterns are matched with moto's
EventBridge matcher, for the pipe's filter as for the rules. A rule target that raises is tried
again with backoff, within the rule's MaximumRetryAttempts and MaximumEventAgeInSeconds; past them
the event is a dead letter (logged, kept in `dead_letters`, and put on the target's dead-letter
queue when the template gives one).

Queues live in memory. Their times are the template's multiplied by `time_scale` (180 s of
visibility timeout is 3 s at the default 1/60): a message whose delivery failed is received again
once its visibility timeout passes, and a message received maxReceiveCount times goes to the
dead-letter queue on its next receive (logged, kept in `dead_letters`). A function that raises
fails its whole batch; one that reports batch item failures fails only the messages it names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import heapq
import itertools
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from moto.events.models import EventPattern

from local_runtime import template
from local_runtime.functions import ACCOUNT_ID, DUMMY_CREDENTIALS, FunctionError, InProcessLambda

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


Target = Callable[[dict[str, Any]], Any]


@dataclass
class Rule:
    name: str  # "<Function>.<EventName>", or "<Rule>.<TargetId>" for an AWS::Events::Rule
    bus: str
    pattern: EventPattern
    target: Target
    retry: RetryPolicy
    target_name: str = ""
    dead_letter_queue: LocalQueue | None = None


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
    rule: str  # what gave up: a rule, or a queue (its redrive policy)
    event: dict[str, Any]
    attempts: int
    error: str
    queue: str | None = None  # the dead-letter queue it went to, if any


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
        queue = delivery.rule.dead_letter_queue
        letter = DeadLetter(
            delivery.rule.name, delivery.event, delivery.attempt, error, queue.name if queue is not None else None
        )
        self.dead_letters.append(letter)
        if queue is not None:
            queue.send(json.dumps(delivery.event))
        LOG.error(
            "DEAD LETTER: %s gave up on event %s after %d attempts%s: %s\n%s",
            delivery.rule.name,
            delivery.event.get("id"),
            delivery.attempt,
            f", put on {queue.name}" if queue is not None else "",
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
    for name, resource in template.of_type(doc, "AWS::Pipes::Pipe").items():
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


def _retry_policy(policy: Mapping[str, Any] | None) -> RetryPolicy:
    policy = policy or {}
    return RetryPolicy(
        int(policy.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS)),
        int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE_SECONDS)),
    )


def _pattern(pattern: Any) -> EventPattern:
    return EventPattern.load(pattern if isinstance(pattern, str) else json.dumps(pattern or {}))


class QueueTarget:
    """A rule target that is an SQS queue: the event, as JSON, is the message body (as EventBridge
    sends it when the target has no input transformation)."""

    def __init__(self, queue: LocalQueue) -> None:
        self.queue = queue

    def __call__(self, event: dict[str, Any]) -> str:
        return self.queue.send(json.dumps(event))


def rules(
    functions: InProcessLambda,
    doc: Mapping[str, Any] | None = None,
    queues: Mapping[str, LocalQueue] | None = None,
) -> list[Rule]:
    """Every EventBridgeRule event of the template's functions, with its function as target, and
    every target of every AWS::Events::Rule that is a function or one of `queues`."""
    doc = doc or template.load()
    queues = queues or {}
    resources = doc["Resources"]
    found = []
    for name, resource in template.of_type(doc, "AWS::Serverless::Function").items():
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event.get("Type") != "EventBridgeRule":
                continue
            props = event["Properties"]
            bus = _logical_id(props.get("EventBusName")) or str(props.get("EventBusName", "default"))
            found.append(
                Rule(
                    name=f"{name}.{event_name}",
                    bus=bus,
                    pattern=_pattern(props.get("Pattern")),
                    target=functions[name],
                    retry=_retry_policy(props.get("RetryPolicy")),
                    target_name=name,
                )
            )
    for name, resource in template.of_type(doc, "AWS::Events::Rule").items():
        props = resource.get("Properties", {})
        if str(props.get("State", "ENABLED")) != "ENABLED":
            continue
        if "EventPattern" not in props:
            LOG.warning("rule %s: no EventPattern (a schedule?); not run locally", name)
            continue
        bus = _logical_id(props.get("EventBusName")) or str(props.get("EventBusName", "default"))
        for target in props.get("Targets", []):
            target_id = _logical_id(target.get("Arn"))
            kind = resources.get(target_id, {}).get("Type")
            deliver: Target
            if kind == "AWS::SQS::Queue" and target_id in queues:
                deliver = QueueTarget(queues[str(target_id)])
            elif kind == "AWS::Serverless::Function" and target_id in functions.functions:
                deliver = functions[str(target_id)]
            else:
                LOG.warning("rule %s: target %s is not a queue or a function; not run locally", name, target.get("Id"))
                continue
            if {"Input", "InputPath", "InputTransformer"} & set(target):
                LOG.warning(
                    "rule %s: target %s transforms its input; the local runtime sends the event", name, target_id
                )
            dead_letter = _logical_id(target.get("DeadLetterConfig", {}).get("Arn"))
            found.append(
                Rule(
                    name=f"{name}.{target.get('Id', target_id)}",
                    bus=bus,
                    pattern=_pattern(props["EventPattern"]),
                    target=deliver,
                    retry=_retry_policy(target.get("RetryPolicy")),
                    target_name=str(target_id),
                    dead_letter_queue=queues.get(dead_letter) if dead_letter else None,
                )
            )
    return found


# ---------------------------------------------------------------------------------------------
# SQS queues in memory, and the SQS event sources of functions.
# ---------------------------------------------------------------------------------------------

DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30
DEFAULT_QUEUE_TIME_SCALE = 1 / 60  # local seconds per second of the template's queue times


@dataclass(frozen=True)
class QueueDefinition:
    name: str
    visibility_timeout_seconds: int
    dead_letter_queue: str | None
    max_receive_count: int | None


def queue_definitions(doc: Mapping[str, Any] | None = None) -> list[QueueDefinition]:
    """Every AWS::SQS::Queue of the template, with its visibility timeout and redrive policy."""
    doc = doc or template.load()
    found = []
    for name, resource in template.of_type(doc, "AWS::SQS::Queue").items():
        props = resource.get("Properties") or {}
        if props.get("FifoQueue"):
            LOG.warning("queue %s: FIFO ordering is not emulated locally", name)
        redrive = props.get("RedrivePolicy") or {}
        if isinstance(redrive, str):
            redrive = json.loads(redrive)
        dead_letter = _logical_id(redrive.get("deadLetterTargetArn"))
        found.append(
            QueueDefinition(
                name=name,
                visibility_timeout_seconds=int(props.get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT_SECONDS)),
                dead_letter_queue=dead_letter,
                max_receive_count=int(redrive["maxReceiveCount"]) if dead_letter else None,
            )
        )
    return found


@dataclass
class QueueMessage:
    message_id: str
    body: str
    sent_at: float  # epoch seconds
    receive_count: int = 0
    first_received_at: float | None = None  # epoch seconds
    visible_at: float = 0.0  # time.monotonic()
    receipt_handle: str = ""
    last_error: str = ""
    source_queue: str | None = None  # the queue it was dead-lettered from


class LocalQueue:
    """A standard SQS queue in memory: send, receive (long polling, with a batching window), delete;
    a received message is invisible for the visibility timeout; past maxReceiveCount receives, a
    message goes to the dead-letter queue instead of being received again."""

    def __init__(
        self,
        definition: QueueDefinition,
        *,
        region: str = "us-east-1",
        time_scale: float = DEFAULT_QUEUE_TIME_SCALE,
        max_receive_count: int | None = None,
    ) -> None:
        self.definition = definition
        self.name = definition.name
        self.region = region
        self.arn = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{definition.name}"
        self.visibility_timeout = definition.visibility_timeout_seconds * time_scale
        self.max_receive_count = (
            max_receive_count if max_receive_count and definition.max_receive_count else definition.max_receive_count
        )
        self.dead_letter_queue: LocalQueue | None = None
        self.dead_letters: list[DeadLetter] = []
        self.sent = 0
        self.deleted = 0
        self._messages: dict[str, QueueMessage] = {}
        self._wake = threading.Condition()
        self._stopped = False

    @property
    def depth(self) -> int:
        """How many messages the queue holds, visible or not."""
        with self._wake:
            return len(self._messages)

    def messages(self) -> list[QueueMessage]:
        """The messages in the queue now, visible or not (a copy)."""
        with self._wake:
            return [dataclasses.replace(message) for message in self._messages.values()]

    def send(self, body: str) -> str:
        message = QueueMessage(str(uuid.uuid4()), body, time.time())
        self._put(message)
        return message.message_id

    def _put(self, message: QueueMessage) -> None:
        with self._wake:
            self._messages[message.message_id] = message
            self.sent += 1
            self._wake.notify_all()

    def receive(self, max_messages: int, *, wait_seconds: float, batching_window: float = 0.0) -> list[dict[str, Any]]:
        """Up to `max_messages` visible messages, as Lambda's SQS records. Waits up to `wait_seconds`
        for one; once one is there, up to `batching_window` more for a full batch."""
        deadline = time.monotonic() + wait_seconds
        with self._wake:
            while not self._stopped:
                visible = self._visible()
                if visible and len(visible) < max_messages and batching_window > 0:
                    window_end = time.monotonic() + batching_window
                    while not self._stopped and len(visible) < max_messages and time.monotonic() < window_end:
                        self._wake.wait(window_end - time.monotonic())
                        visible = self._visible()
                if visible:
                    return [self._receive(message) for message in visible[:max_messages]]
                now = time.monotonic()
                if now >= deadline:
                    return []
                hidden = [m.visible_at for m in self._messages.values() if m.visible_at > now]
                self._wake.wait(max(0.001, min([deadline, *hidden]) - now))
        return []

    def _visible(self) -> list[QueueMessage]:
        """The visible messages; those received maxReceiveCount times go to the dead-letter queue."""
        now, visible = time.monotonic(), []
        for message in list(self._messages.values()):
            if message.visible_at > now:
                continue
            if self.max_receive_count is not None and message.receive_count >= self.max_receive_count:
                self._dead_letter(message)
                continue
            visible.append(message)
        return visible

    def _receive(self, message: QueueMessage) -> dict[str, Any]:
        message.receive_count += 1
        message.first_received_at = message.first_received_at or time.time()
        message.receipt_handle = uuid.uuid4().hex
        message.visible_at = time.monotonic() + self.visibility_timeout
        return {
            "messageId": message.message_id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": {
                "ApproximateReceiveCount": str(message.receive_count),
                "SentTimestamp": str(int(message.sent_at * 1000)),
                "SenderId": ACCOUNT_ID,
                "ApproximateFirstReceiveTimestamp": str(int(message.first_received_at * 1000)),
            },
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(message.body.encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": self.region,
        }

    def _dead_letter(self, message: QueueMessage) -> None:
        del self._messages[message.message_id]
        target = self.dead_letter_queue
        try:
            event = json.loads(message.body)
        except ValueError:
            event = {"body": message.body}
        self.dead_letters.append(
            DeadLetter(
                self.name, event, message.receive_count, message.last_error, target.name if target is not None else None
            )
        )
        LOG.error(
            "DEAD LETTER: %s moved message %s to %s after %d receives (maxReceiveCount %d): %s\n%s",
            self.name,
            message.message_id,
            target.name if target is not None else "nowhere (no dead-letter queue locally)",
            message.receive_count,
            self.max_receive_count,
            message.last_error or "no error recorded",
            message.body,
        )
        if target is not None:
            moved = QueueMessage(message.message_id, message.body, message.sent_at, source_queue=self.name)
            target._put(moved)

    def delete(self, message_id: str, receipt_handle: str) -> bool:
        """Delete a received message (its latest receipt handle only)."""
        with self._wake:
            message = self._messages.get(message_id)
            if message is None or message.receipt_handle != receipt_handle:
                return False
            del self._messages[message_id]
            self.deleted += 1
            return True

    def failed(self, message_id: str, error: str) -> None:
        """Note why the consumer failed on a message (for its dead letter); it stays invisible."""
        with self._wake:
            if message_id in self._messages:
                self._messages[message_id].last_error = error

    def take_moved(self) -> list[QueueMessage]:
        """Remove and return every message (for a redrive)."""
        with self._wake:
            taken, self._messages = list(self._messages.values()), {}
            return taken

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()


@dataclass(frozen=True)
class SqsEventSourceDefinition:
    name: str  # "<Function>.<EventName>"
    function: str
    queue: str
    batch_size: int
    batching_window_seconds: float
    report_batch_item_failures: bool


def sqs_event_sources(doc: Mapping[str, Any] | None = None) -> list[SqsEventSourceDefinition]:
    """Every enabled SQS event of the template's functions."""
    doc = doc or template.load()
    found = []
    for name, resource in template.of_type(doc, "AWS::Serverless::Function").items():
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event.get("Type") != "SQS":
                continue
            props = event["Properties"]
            if props.get("Enabled", True) is False:
                continue
            queue = _logical_id(props.get("Queue"))
            if doc["Resources"].get(queue, {}).get("Type") != "AWS::SQS::Queue":
                LOG.warning("%s.%s: the queue is not one of the template's; not run locally", name, event_name)
                continue
            found.append(
                SqsEventSourceDefinition(
                    name=f"{name}.{event_name}",
                    function=name,
                    queue=str(queue),
                    batch_size=int(props.get("BatchSize", 10)),
                    batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                )
            )
    return found


class SqsEventSource:
    """Lambda's SQS poller for one function: receives batches from the queue, invokes the function,
    deletes what succeeded. A function that raises fails the whole batch; with
    ReportBatchItemFailures, the `batchItemFailures` it answers name the messages that failed (an
    answer Lambda cannot read fails the whole batch too). A failed message stays in the queue and is
    received again once its visibility timeout passes."""

    def __init__(
        self,
        definition: SqsEventSourceDefinition,
        queue: LocalQueue,
        function: Target,
        *,
        time_scale: float = DEFAULT_QUEUE_TIME_SCALE,
        pollers: int = 2,
        wait_seconds: float = 0.2,
    ) -> None:
        self.definition = definition
        self.queue = queue
        self.function = function
        self.batching_window = definition.batching_window_seconds * time_scale
        self.wait_seconds = wait_seconds
        self.invocations = 0
        self.succeeded_records = 0
        self.failed_records = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._poll, daemon=True, name=f"sqs-{definition.name}-{n}") for n in range(pollers)
        ]

    def start(self) -> SqsEventSource:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _poll(self) -> None:
        while not self._stop.is_set():
            batch = self.queue.receive(
                self.definition.batch_size, wait_seconds=self.wait_seconds, batching_window=self.batching_window
            )
            if batch and not self._stop.is_set():
                self.process(batch)

    def process(self, records: list[dict[str, Any]]) -> set[str]:
        """Invoke the function with the batch; delete what succeeded; the ids that failed."""
        ids = [record["messageId"] for record in records]
        try:
            answer = self.function({"Records": records})
        except FunctionError as error:
            failed, why = set(ids), str(error)
        except Exception as error:  # a bug of this runtime: the batch stays in the queue
            LOG.exception("invoking %s failed", self.definition.function)
            failed, why = set(ids), repr(error)
        else:
            failed, why = self._failures(answer, ids), f"{self.definition.function} reported it in batchItemFailures"
        for record in records:
            if record["messageId"] in failed:
                self.queue.failed(record["messageId"], why)
            else:
                self.queue.delete(record["messageId"], record["receiptHandle"])
        with self._lock:
            self.invocations += 1
            self.failed_records += len(failed)
            self.succeeded_records += len(ids) - len(failed)
        if failed:
            LOG.warning(
                "%s: %d of %d messages failed, received again in %.2fs: %s",
                self.definition.name,
                len(failed),
                len(ids),
                self.queue.visibility_timeout,
                why,
            )
        return failed

    def _failures(self, answer: Any, ids: list[str]) -> set[str]:
        """The message ids an answer reports as failed (Lambda's rules for partial batch responses)."""
        if not self.definition.report_batch_item_failures or answer is None:
            return set()
        if not isinstance(answer, dict):
            LOG.error("%s: an answer that is not an object fails the whole batch", self.definition.name)
            return set(ids)
        items = answer.get("batchItemFailures") or []
        named = (
            [item.get("itemIdentifier") if isinstance(item, dict) else None for item in items]
            if isinstance(items, list)
            else [None]
        )
        if any(not isinstance(i, str) or i not in ids for i in named):
            LOG.error("%s: invalid batchItemFailures %r fail the whole batch", self.definition.name, items)
            return set(ids)
        return set(named)  # type: ignore[arg-type]


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
    """The template's pipes, buses, rules, queues and SQS event sources, against DynamoDB Local.

    `queue_time_scale` multiplies the queues' times (visibility timeouts, batching windows);
    `max_receive_count`, when given, replaces the maxReceiveCount of every redrive policy (tests)."""

    def __init__(
        self,
        functions: InProcessLambda,
        endpoint_url: str,
        *,
        region: str = "us-east-1",
        backoff: Backoff = Backoff(),
        data_dir: Path | None = None,
        poll_seconds: float = 0.1,
        queue_time_scale: float = DEFAULT_QUEUE_TIME_SCALE,
        max_receive_count: int | None = None,
    ) -> None:
        doc = template.load()
        self.queues = {
            definition.name: LocalQueue(
                definition, region=region, time_scale=queue_time_scale, max_receive_count=max_receive_count
            )
            for definition in queue_definitions(doc)
        }
        for queue in self.queues.values():
            if queue.definition.dead_letter_queue:
                queue.dead_letter_queue = self.queues.get(queue.definition.dead_letter_queue)
        all_rules = rules(functions, doc, self.queues)
        bus_names = set(template.of_type(doc, "AWS::Events::EventBus"))
        self.buses = {name: EventBus(name, all_rules, backoff=backoff) for name in sorted(bus_names)}
        self.event_sources = {
            definition.name: SqsEventSource(
                definition, self.queues[definition.queue], functions[definition.function], time_scale=queue_time_scale
            )
            for definition in sqs_event_sources(doc)
        }
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
        for source in self.event_sources.values():
            source.start()
        for pipe in self.pipes:
            pipe.start()
        return self

    def stop(self) -> None:
        for pipe in self.pipes:
            pipe.stop()
        for bus in self.buses.values():
            bus.stop()
        for queue in self.queues.values():
            queue.stop()
        for source in self.event_sources.values():
            source.stop()

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return [
            *(letter for bus in self.buses.values() for letter in bus.dead_letters),
            *(letter for queue in self.queues.values() for letter in queue.dead_letters),
        ]

    def redrive(self, dead_letter_queue: str, destination: str | None = None) -> int:
        """Move every message of a dead-letter queue back to the queue it came from, or to
        `destination` (as `aws sqs start-message-move-task` does); how many moved."""
        moved = self.queues[dead_letter_queue].take_moved()
        for message in moved:
            target = destination or message.source_queue
            if target is None:
                raise ValueError(f"a message of {dead_letter_queue} has no source queue: give a destination")
            self.queues[target].send(message.body)
        LOG.info("redrove %d messages from %s", len(moved), dead_letter_queue)
        return len(moved)

    def describe(self) -> list[str]:
        """One line per route of events, for the start-up banner."""
        lines = []
        for pipe in self.pipes:
            d = pipe.definition
            lines.append(f"{d.table} stream -> {d.name} -> {d.bus} ({d.source} / {d.detail_type})")
        for bus in self.buses.values():
            for rule in bus.rules:
                dead = f", then {rule.dead_letter_queue.name}" if rule.dead_letter_queue is not None else ""
                lines.append(
                    f"{bus.name}: {rule.name} -> {rule.target_name} (retries <= {rule.retry.maximum_retry_attempts}, "
                    f"age <= {rule.retry.maximum_event_age_seconds}s{dead})"
                )
        for source in self.event_sources.values():
            e, queue = source.definition, source.queue
            dead_letter_queue = queue.dead_letter_queue.name if queue.dead_letter_queue is not None else "nowhere"
            redrive = (
                f", to {dead_letter_queue} after {queue.max_receive_count} receives" if queue.max_receive_count else ""
            )
            lines.append(
                f"{e.queue} -> {e.function} (batch <= {e.batch_size}, "
                f"{'partial batch failures' if e.report_batch_item_failures else 'a failure fails the batch'}; "
                f"a failed message comes back after {queue.definition.visibility_timeout_seconds}s "
                f"(locally {queue.visibility_timeout:g}s){redrive})"
            )
        return lines
