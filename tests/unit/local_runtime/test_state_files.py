"""What `make run PERSIST=1` keeps on disk survives a kill: whole records only, read back in order;
the local data platform remembers the orders it received across restarts."""

from __future__ import annotations

import json
from pathlib import Path

from local_runtime.data_platform import Store
from local_runtime.state_files import JsonLines, write_atomically


def test_records_are_read_back_in_order_and_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = JsonLines(path)
    log.append([{"n": 1}, {"n": 2}])
    log.append([{"n": 3}])
    log.close()
    with path.open("ab") as file:
        file.write(b'{"n": 4, "cut sh')  # a write a kill cut short
    assert JsonLines(path).read() == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_a_rewrite_replaces_the_records_and_appends_go_on_after_it(tmp_path: Path) -> None:
    log = JsonLines(tmp_path / "log.jsonl")
    log.append([{"n": 1}, {"n": 2}])
    log.rewrite([{"n": 2}])
    log.append([{"n": 3}])
    log.close()
    assert JsonLines(tmp_path / "log.jsonl").read() == [{"n": 2}, {"n": 3}]


def test_an_atomic_write_leaves_the_new_content_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "queue.json"
    write_atomically(path, json.dumps({"v": 1}))
    write_atomically(path, json.dumps({"v": 2}))
    assert json.loads(path.read_text()) == {"v": 2}
    assert [p.name for p in path.parent.iterdir()] == ["queue.json"]


def test_the_data_platform_remembers_what_it_received_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    first = Store(path)
    assert first.receive({"orderId": "o-1", "paidAmount": 10})
    assert not first.receive({"orderId": "o-1", "paidAmount": 10})  # a repeat is not stored twice
    assert first.receive({"orderId": "o-2", "paidAmount": 20})
    first.close()

    second = Store(path)
    assert sorted(second.orders) == ["o-1", "o-2"]
    assert not second.receive({"orderId": "o-2", "paidAmount": 20})
    second.clear()
    second.close()
    assert Store(path).orders == {}


def test_without_a_file_the_data_platform_keeps_orders_in_memory_only(tmp_path: Path) -> None:
    store = Store()
    assert store.receive({"orderId": "o-1"})
    assert list(tmp_path.iterdir()) == []
