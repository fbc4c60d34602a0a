"""SQS standard queues, in memory: send, receive (long polling, a batching window), delete; a
received message is invisible for the visibility timeout; past maxReceiveCount receives, a message
goes to the dead-letter queue instead of being received again.

Times are the template's multiplied by `time_scale` (180 s of visibility timeout is 3 s at the
default 1/60). With a `state_file` (`make run PERSIST=1`), a queue writes its messages to that
file on every change and reads them back when it is made again, so they outlast a stop: a message
in flight when the runtime stopped is received again once its visibility timeout has passed, with
its receive count kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_runtime.aws_env import ACCOUNT_ID, REGION
from local_runtime.state_files import write_atomically
from local_runtime.template import QueueDefinition

LOG = logging.getLogger("local_runtime.queues")

DEFAULT_QUEUE_TIME_SCALE = 1 / 60  # local seconds per second of the template's queue times


@dataclass
class DeadLetter:
    """What a rule or a queue gave up on."""

    rule: str  # what gave up: a rule, or a queue (its redrive policy)
    event: dict[str, Any]
    attempts: int
    error: str
    queue: str | None = None  # the dead-letter queue it went to, if any


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

    def saved(self) -> dict[str, Any]:
        """The message as written to a state file (its visibility in epoch seconds)."""
        return {
            "messageId": self.message_id,
            "body": self.body,
            "sentAt": self.sent_at,
            "receiveCount": self.receive_count,
            "firstReceivedAt": self.first_received_at,
            "visibleAt": time.time() + max(0.0, self.visible_at - time.monotonic()),
            "lastError": self.last_error,
            "sourceQueue": self.source_queue,
        }

    @classmethod
    def restored(cls, saved: dict[str, Any]) -> QueueMessage:
        """A message read back from a state file: invisible for what was left of its timeout."""
        return cls(
            message_id=str(saved["messageId"]),
            body=str(saved["body"]),
            sent_at=float(saved["sentAt"]),
            receive_count=int(saved.get("receiveCount", 0)),
            first_received_at=saved.get("firstReceivedAt"),
            visible_at=time.monotonic() + max(0.0, float(saved.get("visibleAt", 0)) - time.time()),
            last_error=str(saved.get("lastError", "")),
            source_queue=saved.get("sourceQueue"),
        )


class LocalQueue:
    """A standard SQS queue in memory (see the module's doc)."""

    def __init__(
        self,
        definition: QueueDefinition,
        *,
        region: str = REGION,
        time_scale: float = DEFAULT_QUEUE_TIME_SCALE,
        max_receive_count: int | None = None,
        state_file: Path | None = None,
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
        self.state_file = state_file
        self._messages: dict[str, QueueMessage] = self._restore()
        self._wake = threading.Condition()
        self._stopped = False

    # ---- the state file (only when messages are kept between runs)
    def _restore(self) -> dict[str, QueueMessage]:
        if self.state_file is None or not self.state_file.exists():
            return {}
        try:
            saved = json.loads(self.state_file.read_text())
            messages = [QueueMessage.restored(item) for item in saved["messages"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            kept = self.state_file.with_suffix(".unreadable")
            with contextlib.suppress(OSError):
                self.state_file.replace(kept)
            LOG.error(
                "%s: cannot read %s (%s); starting empty, the file is kept as %s",
                self.name,
                self.state_file,
                error,
                kept,
            )
            return {}
        if messages:
            LOG.info("%s: %d message(s) restored from %s", self.name, len(messages), self.state_file)
        return {message.message_id: message for message in messages}

    def _save(self) -> None:
        """Write the messages to the state file (called with the lock held, after each change)."""
        if self.state_file is None:
            return
        state = {"queue": self.name, "messages": [m.saved() for m in self._messages.values()]}
        write_atomically(self.state_file, json.dumps(state))

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
            self._save()
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
                    received = [self._receive(message) for message in visible[:max_messages]]
                    self._save()
                    return received
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
        self._save()
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
            self._save()
            return True

    def failed(self, message_id: str, error: str) -> None:
        """Note why the consumer failed on a message (for its dead letter); it stays invisible."""
        with self._wake:
            if message_id in self._messages:
                self._messages[message_id].last_error = error
                self._save()

    def take_moved(self) -> list[QueueMessage]:
        """Remove and return every message (for a redrive)."""
        with self._wake:
            taken, self._messages = list(self._messages.values()), {}
            self._save()
            return taken

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
