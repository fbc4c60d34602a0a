"""Lambda's SQS event source for one function: polls the queue, invokes the function with each
batch, deletes what succeeded.

A function that raises fails its whole batch; with ReportBatchItemFailures, the `batchItemFailures`
it answers name the messages that failed (an answer Lambda cannot read fails the whole batch too).
A failed message stays in the queue and is received again once its visibility timeout passes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from local_runtime.functions import FunctionError
from local_runtime.queues import DEFAULT_QUEUE_TIME_SCALE, LocalQueue
from local_runtime.template import SqsEventSourceDefinition

LOG = logging.getLogger("local_runtime.sqs_source")

Function = Callable[[dict[str, Any]], Any]


class SqsEventSource:
    """The poller of one function's SQS event (see the module's doc)."""

    def __init__(
        self,
        definition: SqsEventSourceDefinition,
        queue: LocalQueue,
        function: Function,
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
            if thread.is_alive():
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
