"""`make run` as a newcomer runs it (PATH and a fresh HOME, no AWS configuration): it serves the
API, and with PERSIST=1 an order waiting in the data platform queue when Ctrl-C stops it is
delivered after the next start."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local_runtime import ports
from tests.e2e.conftest import Client
from tests.e2e.test_events import place_order
from tests.support import newcomer, polling

START_SECONDS = 180


def eventually(check: Callable[[], Any], seconds: float = 30) -> Any:
    return polling.eventually(check, seconds, every=0.2)


@contextmanager
def make_run(folder: Path, *variables: str) -> Iterator[tuple[Client, Client]]:
    """`make run` on free ports until the block ends (then Ctrl-C); (API, data platform) clients."""
    api_port, platform_port, docs_port = ports.free_port(), ports.free_port(), ports.free_port()
    log_path = folder / f"make-run-{api_port}.log"
    arguments = [f"PORT={api_port}", f"DATA_PLATFORM_PORT={platform_port}", f"DOCS_PORT={docs_port}", *variables]
    with log_path.open("wb") as log:
        process = newcomer.start_make("run", *arguments, home=folder / "home", output=log)
        try:
            ready = eventually(
                lambda: process.poll() is not None or "==> ready in" in log_path.read_text(errors="replace"),
                START_SECONDS,
            )
            output = log_path.read_text(errors="replace")
            assert ready and process.poll() is None, f"make run did not start:\n{output[-3000:]}"
            yield Client(f"http://127.0.0.1:{api_port}"), Client(f"http://127.0.0.1:{platform_port}")
        finally:
            newcomer.stop(process)
    output = log_path.read_text(errors="replace")
    assert "==> stopped" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]


def queued(queue_file: Path) -> list[dict[str, Any]]:
    """The messages a queue's state file holds."""
    if not queue_file.is_file():
        return []
    return list(json.loads(queue_file.read_text())["messages"])


def test_make_run_serves_the_api_and_keeps_queued_orders_across_a_restart(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    queue_file = kept / "queues" / "DataPlatformQueue.json"
    with make_run(tmp_path, "PERSIST=1", f"PERSIST_DIR={kept}") as (api, data_platform):
        products = api.get("/products")
        assert products.status == 200 and products.body["items"], products
        data_platform.ok("POST", "/faults", {"failNext": 1_000_000})
        order = place_order(api)

        def waiting() -> list[dict[str, Any]]:
            return [m for m in queued(queue_file) if order["orderId"] in m["body"] and m["receiveCount"] >= 1]

        assert eventually(waiting), f"the order never waited in the queue: {queued(queue_file)}"
    assert [m for m in queued(queue_file) if order["orderId"] in m["body"]], "the stop lost the queued order"
    assert (kept / "dynamodb").is_dir()

    with make_run(tmp_path, "PERSIST=1", f"PERSIST_DIR={kept}") as (api, data_platform):
        assert eventually(lambda: data_platform.get(f"/orders/{order['orderId']}").status == 200), (
            "the order kept in the queue was not delivered after the restart"
        )
        assert eventually(lambda: not queued(queue_file)), "the delivered message was not deleted"
        assert api.get(f"/products/{order['items'][0]['productId']}").status == 200  # the tables were kept too
