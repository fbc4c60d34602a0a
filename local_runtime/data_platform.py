"""A local stand-in for the data platform: records the completed orders it receives and lists them.

POST /orders            an order (JSON with "orderId") with `Authorization: Bearer <credential>`;
                        201 the first time, 200 for a repeat (deliveries are at least once: a
                        repeat is counted, not stored twice); 401 (JSON body) without the
                        credential it expects
GET  /orders            {"count", "deliveries", "refused", "items": [order + "receivedAt"], newest last}
GET  /orders/{orderId}  one order, or 404
POST /faults            {"failNext": n}: answer the next n POST /orders with 503 (to watch retries)
POST /credential        {"expect": "<token>"}: expect another credential from now on (a secret
                        rotated on one side only)
DELETE /credential      expect the credential it started with again
DELETE /orders          forget everything

The credential is the one the runtime gives the forwarder too (the template parameter
`LocalDataPlatformToken`): made afresh for each server unless given.

With a state file (`make run PERSIST=1`), every order received is appended to it before the answer,
and read back at start: as a real data platform, it remembers what it received across the shop's
restarts.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local_runtime.state_files import JsonLines

LOG = logging.getLogger("local_runtime.data_platform")


def new_credential() -> str:
    """A fresh local credential: a bearer token (RFC 6750's characters), known to this run only."""
    return secrets.token_urlsafe(32)


class Store:
    def __init__(self, state_file: Path | None = None, credential: str | None = None) -> None:
        self.lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}
        self.deliveries = 0
        self.refused = 0
        self.fail_next = 0
        self.credential = credential or new_credential()
        self.expected = self.credential
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

    def admits(self, authorization: str | None) -> bool:
        """Whether `Authorization` carries the credential expected now; counts a refusal."""
        with self.lock:
            admitted = hmac.compare_digest((authorization or "").encode(), f"Bearer {self.expected}".encode())
            if not admitted:
                self.refused += 1
            return admitted

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

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _raw_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        store = self.server.store
        path = self.path.split("?", 1)[0].rstrip("/")
        with store.lock:
            if path == "/orders":
                items = list(store.orders.values())
                self._answer(
                    200,
                    {"count": len(items), "deliveries": store.deliveries, "refused": store.refused, "items": items},
                )
                return
            if path.startswith("/orders/") and path[len("/orders/") :] in store.orders:
                self._answer(200, store.orders[path[len("/orders/") :]])
                return
        self._answer(404, {"code": "NOT_FOUND", "message": "no such order or route"})

    def do_POST(self) -> None:
        store = self.server.store
        path = self.path.split("?", 1)[0].rstrip("/")
        raw = self._raw_body()  # read whole before any answer: the connection is kept for the next request
        if path == "/orders" and not store.admits(self.headers.get("Authorization")):
            LOG.warning("data platform refused a delivery: no credential, or not the one it expects")
            self._answer(
                HTTPStatus.UNAUTHORIZED,
                {"code": "UNAUTHORIZED", "message": "Authorization: Bearer <the shop's credential> is required"},
                {"WWW-Authenticate": 'Bearer realm="data-platform"'},
            )
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._answer(400, {"code": "INVALID_REQUEST", "message": "body: not valid JSON"})
            return
        if path == "/faults":
            with store.lock:
                store.fail_next = int((body or {}).get("failNext", 0))
            self._answer(200, {"failNext": store.fail_next})
            return
        if path == "/credential":
            expect = body.get("expect") if isinstance(body, dict) else None
            if not isinstance(expect, str) or not expect:
                self._answer(400, {"code": "INVALID_REQUEST", "message": "expect: a credential is required"})
                return
            with store.lock:
                store.expected = expect
            self._answer(200, {"expecting": "the credential given"})
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
        store = self.server.store
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/orders":
            store.clear()
            self._answer(200, {"count": 0})
            return
        if path == "/credential":
            with store.lock:
                store.expected = store.credential
            self._answer(200, {"expecting": "the credential it started with"})
            return
        self._answer(404, {"code": "NOT_FOUND", "message": "no such route"})


class DataPlatformServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, host: str = "127.0.0.1", port: int = 3001, state_file: Path | None = None, credential: str | None = None
    ) -> None:
        super().__init__((host, port), _Handler)
        self.store = Store(state_file, credential)
        self._thread: threading.Thread | None = None

    @property
    def credential(self) -> str:
        """The credential the shop's forwarder is given (the template parameter LocalDataPlatformToken)."""
        return self.store.credential

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
