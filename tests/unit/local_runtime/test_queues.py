"""The queues alone (`local_runtime.queues`): receive, visibility, batching, the redrive policy, and
the state file that keeps their messages between runs (`make run PERSIST=1`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from local_runtime.queues import LocalQueue
from local_runtime.template import QueueDefinition

SCALE = 0.01  # 20 s of visibility timeout: 0.2 s


def queue(state_file: Path | None = None, *, max_receive_count: int | None = None) -> LocalQueue:
    dead_letter = "Dead" if max_receive_count else None
    return LocalQueue(
        QueueDefinition("Work", 20, dead_letter, max_receive_count), time_scale=SCALE, state_file=state_file
    )


def test_a_batch_waits_for_the_batching_window_and_stops_at_the_batch_size() -> None:
    work = queue()
    work.send("a")
    started = time.monotonic()
    assert len(work.receive(2, wait_seconds=1, batching_window=0.2)) == 1
    assert time.monotonic() - started >= 0.15  # waited for a second message that never came
    for body in ("b", "c", "d"):
        work.send(body)
    started = time.monotonic()
    assert len(work.receive(2, wait_seconds=1, batching_window=5)) == 2  # full: no wait
    assert time.monotonic() - started < 1


def test_a_received_message_is_invisible_until_its_visibility_timeout_passes() -> None:
    work = queue()
    work.send("a")
    (first,) = work.receive(10, wait_seconds=1)
    assert work.receive(10, wait_seconds=0) == []
    (again,) = work.receive(10, wait_seconds=2)
    assert (again["messageId"], again["attributes"]["ApproximateReceiveCount"]) == (first["messageId"], "2")
    assert not work.delete(first["messageId"], first["receiptHandle"])  # an old receipt handle deletes nothing
    assert work.delete(again["messageId"], again["receiptHandle"]) and work.depth == 0


def test_past_max_receive_count_a_message_goes_to_the_dead_letter_queue() -> None:
    work, dead = queue(max_receive_count=1), LocalQueue(QueueDefinition("Dead", 20, None, None), time_scale=SCALE)
    work.dead_letter_queue = dead
    work.send("a")
    (record,) = work.receive(10, wait_seconds=1)
    work.failed(record["messageId"], "the consumer failed")
    assert work.receive(10, wait_seconds=0.5) == []  # its next receive moves it instead
    (moved,) = dead.messages()
    assert (moved.body, moved.source_queue) == ("a", "Work")
    (letter,) = work.dead_letters
    assert (letter.queue, letter.attempts, letter.error) == ("Dead", 1, "the consumer failed")


def test_messages_outlast_the_queue_through_its_state_file(tmp_path: Path) -> None:
    state = tmp_path / "queues" / "Work.json"
    before = queue(state)
    kept, received = before.send("kept"), before.send("received once")
    deleted = before.send("deleted")
    records = {r["body"]: r for r in before.receive(10, wait_seconds=1)}
    before.failed(received, "the consumer failed")
    assert before.delete(deleted, records["deleted"]["receiptHandle"])
    before.stop()

    after = queue(state)

    assert {m.message_id: m.body for m in after.messages()} == {kept: "kept", received: "received once"}
    assert {m.body: m.last_error for m in after.messages()}["received once"] == "the consumer failed"
    assert after.receive(10, wait_seconds=0) == []  # still within the visibility timeout of their receive
    again = {r["body"]: r["attributes"]["ApproximateReceiveCount"] for r in after.receive(10, wait_seconds=2)}
    assert again == {"kept": "2", "received once": "2"}  # the receive before the stop counts


def test_the_state_file_follows_every_change(tmp_path: Path) -> None:
    state = tmp_path / "Work.json"
    work = queue(state)

    def saved() -> list[str]:
        return [m["body"] for m in json.loads(state.read_text())["messages"]]

    work.send("a")
    assert saved() == ["a"]
    (record,) = work.receive(1, wait_seconds=1)
    assert json.loads(state.read_text())["messages"][0]["receiveCount"] == 1
    work.delete(record["messageId"], record["receiptHandle"])
    assert saved() == []


def test_a_queue_without_a_state_file_writes_nothing(tmp_path: Path) -> None:
    work = queue()
    work.send("a")
    assert work.state_file is None and list(tmp_path.iterdir()) == []


def test_an_unreadable_state_file_is_kept_aside_and_the_queue_starts_empty(tmp_path: Path) -> None:
    state = tmp_path / "Work.json"
    state.write_text("{not json")
    work = queue(state)
    assert work.depth == 0
    assert (tmp_path / "Work.unreadable").read_text() == "{not json"
