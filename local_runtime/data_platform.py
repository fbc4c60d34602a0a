"""A local stand-in for the data platform: records the completed orders it receives and lists them.

POST /orders            an order (JSON with "orderId"); 201 the first time, 200 for a repeat
                        (deliveries are at least once: a repeat is counted, not stored twice)
GET  /orders            {"count", "deliveries", "items": [order + "receivedAt"], newest last}
GET  /orders/{orderId}  one order, or 404
POST /faults            {"failNext": n}: answer the next n POST /orders with 503 (to watch retries)
DELETE /orders          forget everything

With a state file (`make run PERSIST=1`), every order received is appended to it before the answer,
and read back at start: as a real data platform, it remembers what it received across the shop's
restarts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local_runtime.state_files import JsonLines

LOG = logging.getLogger("local_runtime.data_platform")


class Store:
    def __init__(self, state_file: Path | None = None) -> None:
        self.lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}
        self.deliveries = 0
        self.fail_next = 0
        self._file = JsonLines(state_file) if state_file is not None else None
        if self._file is not None:
            self.orders = {order["orderId"]: order for order in self._file.read() if "orderId" in order}

    def receive(self, order: dict[str, Any]) -> bool:
        """Record an order; False if it was already there."""
        with self.lock:
            self.deliveries += 1
            if order["orderId"] in self.orders:
                return False
            received = {**order, "receivedAt": dt.datetime.now(dt.UTC).isoformat()}
            if self._file is not None:
                self._file.append([received])
            self.orders[order["orderId"]] = received
            return True

    def clear(self) -> None:
        with self.lock:
            self.orders.clear()
            self.deliveries = 0
            if self._file is not None:
                self._file.rewrite([])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def take_fault(self) -> bool:
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return True
            return False


class _Handler(BaseHTTPRequestHandler):
    server: DataPlatformServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s - %s", self.address_string(), format % args)

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def do_GET(self) -> None:
        store = self.server.store
        path = self.path.split("?", 1)[0].rstrip("/")
        with store.lock:
            if path == "/orders":
                items = list(store.orders.values())
                self._answer(200, {"count": len(items), "deliveries": store.deliveries, "items": items})
                return
            if path.startswith("/orders/") and path[len("/orders/") :] in store.orders:
                self._answer(200, store.orders[path[len("/orders/") :]])
                return
        self._answer(404, {"code": "NOT_FOUND", "message": "no such order or route"})

    def do_POST(self) -> None:
        store = self.server.store
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            body = self._body()
        except ValueError:
            self._answer(400, {"code": "INVALID_REQUEST", "message": "body: not valid JSON"})
            return
        if path == "/faults":
            with store.lock:
                store.fail_next = int((body or {}).get("failNext", 0))
            self._answer(200, {"failNext": store.fail_next})
            return
        if path != "/orders":
            self._answer(404, {"code": "NOT_FOUND", "message": "no such route"})
            return
        if not isinstance(body, dict) or not isinstance(body.get("orderId"), str):
            self._answer(400, {"code": "INVALID_REQUEST", "message": "orderId: required"})
            return
        if store.take_fault():
            self._answer(HTTPStatus.SERVICE_UNAVAILABLE, {"code": "UNAVAILABLE", "message": "injected fault"})
            return
        new = store.receive(body)
        if new:
            LOG.info("data platform received order %s (paid %s)", body["orderId"], body.get("paidAmount"))
        self._answer(201 if new else 200, {"orderId": body["orderId"], "duplicate": not new})

    def do_DELETE(self) -> None:
        if self.path.split("?", 1)[0].rstrip("/") == "/orders":
            self.server.store.clear()
            self._answer(200, {"count": 0})
            return
        self._answer(404, {"code": "NOT_FOUND", "message": "no such route"})


class DataPlatformServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str = "127.0.0.1", port: int = 3001, state_file: Path | None = None) -> None:
        super().__init__((host, port), _Handler)
        self.store = Store(state_file)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def orders_url(self) -> str:
        return f"{self.url}/orders"

    def start(self) -> DataPlatformServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="data-platform")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.store.close()
