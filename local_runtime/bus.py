"""An EventBridge event bus with the template's rules on it, delivering to their targets.

A rule's target is a function (invoked asynchronously, as EventBridge does) or an SQS queue (the
event, as JSON, is the message body, as EventBridge sends it when the target has no input
transformation). Patterns are matched with moto's EventBridge matcher. A target that fails is tried
again with backoff, within the rule's MaximumRetryAttempts and MaximumEventAgeInSeconds; past them
the event is a dead letter (logged, kept in `dead_letters`, and put on the target's dead-letter
queue when the template gives one).
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from moto.events.models import EventPattern

from local_runtime.functions import FunctionError
from local_runtime.queues import DeadLetter, LocalQueue
from local_runtime.template import RetryPolicy, RuleDefinition

LOG = logging.getLogger("local_runtime.bus")

Target = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Backoff:
    """Local retry delays: short, growing, capped (AWS waits longer; the bounds are the template's)."""

    first_seconds: float = 0.2
    cap_seconds: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(random.uniform(0.5, 1.0) * min(self.cap_seconds, self.first_seconds * 2 ** (attempt - 1)))


@dataclass
class Rule:
    name: str  # "<Function>.<EventName>", or "<Rule>.<TargetId>" for an AWS::Events::Rule
    bus: str
    pattern: EventPattern
    target: Target
    retry: RetryPolicy
    target_name: str = ""
    dead_letter_queue: LocalQueue | None = None


class QueueTarget:
    """A rule target that is an SQS queue: the event, as JSON, is the message body."""

    def __init__(self, queue: LocalQueue) -> None:
        self.queue = queue

    def __call__(self, event: dict[str, Any]) -> str:
        return self.queue.send(json.dumps(event))


def rules(
    definitions: Iterable[RuleDefinition],
    functions: Mapping[str, Target],
    queues: Mapping[str, LocalQueue],
) -> list[Rule]:
    """The rules of `definitions`, bound to their targets among `functions` and `queues` (a target
    that is neither is left out, with a warning)."""
    found = []
    for definition in definitions:
        deliver: Target
        if definition.target_kind == "queue" and definition.target in queues:
            deliver = QueueTarget(queues[definition.target])
        elif definition.target_kind == "function" and definition.target in functions:
            deliver = functions[definition.target]
        else:
            LOG.warning("%s: target %s is not run locally", definition.name, definition.target)
            continue
        dead_letter = definition.dead_letter_queue
        found.append(
            Rule(
                name=definition.name,
                bus=definition.bus,
                pattern=EventPattern.load(definition.pattern),
                target=deliver,
                retry=definition.retry,
                target_name=definition.target,
                dead_letter_queue=queues.get(dead_letter) if dead_letter else None,
            )
        )
    return found


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    rule: Rule = field(compare=False)
    event: dict[str, Any] = field(compare=False)
    attempt: int = field(compare=False, default=1)
    first_try: float = field(compare=False, default=0.0)


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
