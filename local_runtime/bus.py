"""An EventBridge event bus with the template's rules on it, delivering to their targets.

A rule's target is a function (invoked asynchronously, as EventBridge does) or an SQS queue (the
event, as JSON, is the message body, as EventBridge sends it when the target has no input
transformation). Patterns are matched with moto's EventBridge matcher. A target that fails is tried
again with backoff, within the rule's MaximumRetryAttempts and MaximumEventAgeInSeconds; past them
the event is a dead letter (logged, kept in `dead_letters`, and put on the target's dead-letter
queue when the template gives one).

EventBridge answers PutEvents once it has durably accepted the events. So does this bus when it
has a journal (`make run PERSIST=1`): `put_events` returns once every delivery it owes (one per
matching rule) is written to the journal, and a delivery leaves the journal only when it is done
(the target took the event, or it was dead-lettered). A bus made again on the same journal, after
a stop of any kind (kill -9 included), delivers what was pending: at least once, as EventBridge.
"""

from __future__ import annotations

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

from moto.events.models import EventPattern

from local_runtime.functions import FunctionError
from local_runtime.queues import DeadLetter, LocalQueue
from local_runtime.state_files import JsonLines
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
    key: str = field(compare=False, default_factory=lambda: uuid.uuid4().hex)  # its entry in the journal


class Journal:
    """The deliveries a bus has accepted and not finished, in an append-only file: an `accepted`
    record (the rule and the event) when accepted, a `done` record when finished. Read back, the
    accepted records with no `done` are what is still owed. Compacted at start and every
    `compact_every` finished deliveries."""

    def __init__(self, path: Path, compact_every: int = 1000) -> None:
        self._file = JsonLines(path)
        self._compact_every = compact_every
        self._lock = threading.Lock()
        self._finished = 0
        self._pending: dict[str, dict[str, Any]] = {}
        for record in self._file.read():
            if "accepted" in record:
                self._pending[record["accepted"]] = record
            elif "done" in record:
                self._pending.pop(record["done"], None)
        self._file.rewrite(self._pending.values())

    def pending(self) -> list[tuple[str, str, dict[str, Any]]]:
        """What is owed, as (key, rule name, event)."""
        with self._lock:
            return [(key, record["rule"], record["event"]) for key, record in self._pending.items()]

    def accept(self, deliveries: Iterable[_Delivery]) -> None:
        records: list[dict[str, Any]] = [{"accepted": d.key, "rule": d.rule.name, "event": d.event} for d in deliveries]
        with self._lock:
            self._file.append(records)
            self._pending.update((record["accepted"], record) for record in records)

    def finish(self, key: str) -> None:
        with self._lock:
            self._pending.pop(key, None)
            self._finished += 1
            if self._finished % self._compact_every == 0:
                self._file.rewrite(self._pending.values())
            else:
                self._file.append([{"done": key}])

    def close(self) -> None:
        self._file.close()


class EventBus:
    """An event bus with the template's rules on it, delivering asynchronously to their targets
    (with a `journal`, what it accepted outlasts a stop: see the module's doc)."""

    def __init__(
        self,
        name: str,
        rules: Iterable[Rule],
        *,
        backoff: Backoff = Backoff(),
        workers: int = 4,
        journal: Path | None = None,
    ) -> None:
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
        self._journal = Journal(journal) if journal is not None else None
        self._scheduler = threading.Thread(target=self._schedule, daemon=True, name=f"bus-{name}-scheduler")
        self._scheduler.start()
        self._resume()

    def _resume(self) -> None:
        """Deliver what the journal says was accepted and never finished."""
        if self._journal is None:
            return
        by_name = {rule.name: rule for rule in self.rules}
        owed = self._journal.pending()
        for key, rule_name, event in owed:
            rule = by_name.get(rule_name)
            if rule is None:
                LOG.error(
                    "%s: event %s was accepted for rule %s, which the template no longer has; dropped",
                    self.name,
                    event.get("id"),
                    rule_name,
                )
                self._journal.finish(key)
                continue
            now = time.monotonic()
            self._enqueue(_Delivery(now, next(self._seq), rule, event, 1, now, key))
        if owed:
            LOG.info("%s: %d accepted deliveries resumed from the journal", self.name, len(owed))

    def put_events(self, events: Iterable[dict[str, Any]]) -> None:
        """Accept each event for the target of every rule whose pattern matches it: written to the
        journal (if any) before this returns, then delivered asynchronously."""
        now = time.monotonic()
        deliveries = [
            _Delivery(now, next(self._seq), rule, event, 1, now)
            for event in events
            for rule in self.rules
            if rule.pattern.matches_event(event)  # type: ignore[arg-type]
        ]
        if self._journal is not None:
            self._journal.accept(deliveries)
        for delivery in deliveries:
            self._enqueue(delivery)

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
                retry = _Delivery(
                    time.monotonic() + delay,
                    next(self._seq),
                    rule,
                    delivery.event,
                    delivery.attempt + 1,
                    delivery.first_try,
                    delivery.key,
                )
                self._enqueue(retry)
        except Exception as error:  # a bug of this runtime: never lose the event silently
            LOG.exception("delivering to %s failed", rule.name)
            self._dead_letter(delivery, repr(error))
        else:
            self.delivered += 1
            self._finish(delivery)
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
        self._finish(delivery)
        LOG.error(
            "DEAD LETTER: %s gave up on event %s after %d attempts%s: %s\n%s",
            delivery.rule.name,
            delivery.event.get("id"),
            delivery.attempt,
            f", put on {queue.name}" if queue is not None else "",
            error,
            json.dumps(delivery.event),
        )

    def _finish(self, delivery: _Delivery) -> None:
        if self._journal is not None:
            self._journal.finish(delivery.key)

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
        # What is not delivered yet stays in the journal, for the next bus on it.
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._journal is not None:
            self._journal.close()
