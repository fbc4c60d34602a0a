"""Sending an order to the data platform: only a 2xx answer to the POST is a delivery."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shop.models.order import Order
from shop.models.product import Product
from shop.services.data_platform import DataPlatformService, DataPlatformUnavailable
from tests.support.orders import paid_order

ORDER = paid_order(
    [(Product(product_id="p", name="P", price=100, stock=5), 2)],
    at=datetime.fromisoformat("2026-11-24T09:30:00+09:00"),
)


class Platform:
    """A data platform on 127.0.0.1 that answers POSTs with `status` (and `location`)."""

    def __init__(self, status: int, location: str | None = None) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                platform.requests.append((method, self.path, self.rfile.read(length)))
                code = status if method == "POST" else 200
                self.send_response(code)
                if location and method == "POST":
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                self._answer("POST")

            def do_GET(self) -> None:
                self._answer("GET")

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/orders"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform(request: pytest.FixtureRequest) -> Iterator[Platform]:
    status, location = request.param
    server = Platform(status, location)
    yield server
    server.stop()


@pytest.mark.parametrize("platform", [(200, None), (201, None), (204, None)], indirect=True)
def test_a_2xx_answer_is_a_delivery(platform: Platform) -> None:
    DataPlatformService(platform.url).send(ORDER)
    [(method, path, body)] = platform.requests
    assert (method, path) == ("POST", "/orders")
    assert Order.model_validate_json(body) == ORDER


@pytest.mark.parametrize(
    "platform", [(301, "/elsewhere"), (302, "/elsewhere"), (307, "/elsewhere"), (500, None)], indirect=True
)
def test_a_redirect_or_an_error_is_not_a_delivery(platform: Platform) -> None:
    with pytest.raises(DataPlatformUnavailable, match="answered"):
        DataPlatformService(platform.url).send(ORDER)
    assert [method for method, _, _ in platform.requests] == ["POST"]


def test_a_url_that_is_not_http_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="http"):
        DataPlatformService("file:///etc/passwd")
