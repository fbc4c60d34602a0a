"""The template's events, run on this machine: table stream -> pipe -> event bus -> rules -> targets
(functions, or SQS queues read by functions through their SQS event sources).

Each AWS part has its own module; this one reads their definitions from the template
(`local_runtime.template`) and wires them together:
- `pipe`: every `AWS::Pipes::Pipe` from a table's stream to an event bus;
- `bus`: every `AWS::Events::EventBus`, with the rules on it (`EventBridgeRule` events of functions,
  `AWS::Events::Rule` resources and their targets, retry policies and dead-letter queues);
- `queues`: every `AWS::SQS::Queue`, with its visibility timeout and redrive policy;
- `sqs_source`: every `SQS` event of a function.

Functions are invoked through `functions[<LogicalId>]`, the runner `make run` serves the API with.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from local_runtime import template
from local_runtime.aws_env import REGION
from local_runtime.bus import Backoff, EventBus, Target, rules
from local_runtime.pipe import StreamPipe
from local_runtime.queues import DEFAULT_QUEUE_TIME_SCALE, DeadLetter, LocalQueue
from local_runtime.sqs_source import SqsEventSource

__all__ = ["Backoff", "EventRuntime"]

LOG = logging.getLogger("local_runtime.events")


class Functions(Protocol):
    """The template's functions by logical id, each called with an event (the runner in `functions`)."""

    def __getitem__(self, logical_id: str, /) -> Target: ...


class EventRuntime:
    """The template's pipes, buses, rules, queues and SQS event sources, against DynamoDB Local.

    With `data_dir`, `queue_dir` and `journal_dir` (`make run PERSIST=1`), the pipes' stream
    checkpoints, the queues' messages and the buses' accepted deliveries are kept there, so that no
    event is lost across a stop (see `pipe`, `queues`, `bus`).
    `queue_time_scale` multiplies the queues' times (visibility timeouts, batching windows);
    `max_receive_count`, when given, replaces the maxReceiveCount of every redrive policy (tests)."""

    def __init__(
        self,
        functions: Functions,
        endpoint_url: str,
        *,
        region: str = REGION,
        backoff: Backoff | None = None,
        data_dir: Path | None = None,
        queue_dir: Path | None = None,
        journal_dir: Path | None = None,
        poll_seconds: float = 0.1,
        queue_time_scale: float = DEFAULT_QUEUE_TIME_SCALE,
        max_receive_count: int | None = None,
    ) -> None:
        doc = template.load()
        self.queues = {
            definition.name: LocalQueue(
                definition,
                region=region,
                time_scale=queue_time_scale,
                max_receive_count=max_receive_count,
                state_file=(queue_dir / f"{definition.name}.json") if queue_dir else None,
            )
            for definition in template.queue_definitions(doc)
        }
        for queue in self.queues.values():
            if queue.definition.dead_letter_queue:
                queue.dead_letter_queue = self.queues.get(queue.definition.dead_letter_queue)
        rule_definitions = template.rule_definitions(doc)
        source_definitions = template.sqs_event_source_definitions(doc)
        invoked = {d.target for d in rule_definitions if d.target_kind == "function"}
        invoked |= {d.function for d in source_definitions}
        targets: dict[str, Target] = {name: functions[name] for name in sorted(invoked)}
        all_rules = rules(rule_definitions, targets, self.queues)
        self.buses = {
            name: EventBus(
                name,
                all_rules,
                backoff=backoff or Backoff(),
                journal=(journal_dir / f"{name}.jsonl") if journal_dir else None,
            )
            for name in template.event_buses(doc)
        }
        self.event_sources = {
            definition.name: SqsEventSource(
                definition, self.queues[definition.queue], targets[definition.function], time_scale=queue_time_scale
            )
            for definition in source_definitions
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
            for definition in template.pipe_definitions(doc)
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
